"""Rewrite one machine's entry of machines.json, keeping every other entry and their order.

    machines.json text --with_entry(name, perf, cores)--> new text (checked by parse_machines)

Pure: `calibrate --update` (`splitter.run.calibrate.update_machine_entry`)
writes the new text. The order of the entries is part of the plan,
so a new machine goes last and an existing one keeps its place. A long-form
entry keeps every field calibrate does not measure (gpus, mem, tags, named
counts), in its order.
"""

from __future__ import annotations

import json

from splitter.campaign.machines import parse_machines

__all__ = ["with_entry"]


def with_entry(text: str, source: str, name: str, perf: float, cores: int) -> str:
    """machines.json text with ``name``'s perf and cores set, one entry a line."""
    parse_machines(text, source)  # refuses a file that is not valid as it stands
    # Valid, so no name repeats: a dict keeps every entry, in file order.
    entries: dict[str, object] = json.loads(text)
    old = entries.get(name)
    if isinstance(old, dict):
        entries[name] = {**old, "perf": perf, "cores": cores}
    else:
        entries[name] = [perf, cores]
    lines = [f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in entries.items()]
    new = "{\n" + ",\n".join(lines) + "\n}\n"
    parse_machines(new, source)  # the new entry must be valid too
    return new
