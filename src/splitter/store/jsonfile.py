"""Read a small JSON file splitter wrote, with a bound on what reading it may cost.

    path --open_regular (no FIFO, no device)--> at most `limit` bytes --UTF-8, JSON--> dict

A manifest.json or report.json is a file a person can replace or edit: a
FIFO would block the reader, /dev/zero or a sparse file of gigabytes would
fill its memory, JSON nested a million deep would overflow Python's stack.
Each is one sentence naming the file and the fix instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from splitter.store.frames import CorruptFileError, open_regular

__all__ = ["read_json_object", "read_limited"]


def read_limited(path: Path, limit: int, fix: str) -> bytes:
    """The bytes of the regular file `path`, refused (CorruptFileError) beyond `limit` bytes.

    FileNotFoundError passes through, for the caller to say what is missing.
    """
    with open_regular(path) as f:
        # fstat tells at once for a regular file; the bounded read catches one that grows.
        if os.fstat(f.fileno()).st_size > limit:
            raise _too_large(path, limit, fix)
        try:
            data = f.read(limit + 1)
        except OSError as exc:
            raise CorruptFileError(f"{path} cannot be read ({exc.strerror}); {fix}") from None
    if len(data) > limit:
        raise _too_large(path, limit, fix)
    return data


def read_json_object(path: Path, limit: int, fix: str) -> dict[str, Any]:
    """The JSON object in `path`; any other content is one sentence: "{path} {problem}; {fix}"."""
    data = read_limited(path, limit, fix)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptFileError(f"{path} is not UTF-8 text; {fix}") from None
    try:
        value = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, or an integer of more digits than Python takes
        raise CorruptFileError(f"{path} is not valid JSON ({exc}); {fix}") from None
    except RecursionError:
        raise CorruptFileError(f"{path} is JSON nested too deeply to read; {fix}") from None
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")
        raise CorruptFileError(
            f"{path} holds {'null' if value is None else kind}, not a JSON object; {fix}"
        )
    return value


def _too_large(path: Path, limit: int, fix: str) -> CorruptFileError:
    return CorruptFileError(
        f"{path} is larger than {limit >> 20} MiB, more than splitter ever writes there; {fix}"
    )
