"""Rewrite one machine's entry of machines.json, keeping every other entry and their order.

    machines.json text --with_entry(name, perf, cores)--> new text (checked by parse_machines)
    new text --write_machines--> temporary file in the same folder --rename--> machines.json

Used by `calibrate --update`. The order of the entries is part of the plan,
so a new machine goes last and an existing one keeps its place.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from splitter.campaign.machines import parse_machines

__all__ = ["update_machine_entry", "with_entry"]


def with_entry(text: str, source: str, name: str, perf: float, cores: int) -> str:
    """machines.json text with ``name`` set to ``[perf, cores]``, one entry a line."""
    parse_machines(text, source)  # refuses a file that is not valid as it stands
    pairs: list[tuple[str, object]] = json.loads(text, object_pairs_hook=list)
    entries = dict(pairs)
    entries[name] = [perf, cores]
    lines = [f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in entries.items()]
    new = "{\n" + ",\n".join(lines) + "\n}\n"
    parse_machines(new, source)  # the new entry must be valid too
    return new


def update_machine_entry(path: Path, name: str, perf: float, cores: int) -> None:
    """Set ``name``'s entry of the machines.json at ``path``: write, then rename."""
    text = path.read_text(encoding="utf-8-sig")
    new = with_entry(text, str(path), name, perf, cores)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temp, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(new)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise
