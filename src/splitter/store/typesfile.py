"""Write and read results.types.json: the kinds each job column of a results file has held.

    ColumnKinds --write_types (write, then rename)--> FOLDER/results.types.json
    FOLDER/results.types.json --read_types--> {column: kinds}, or None for a folder without one

The results writer rewrites it before the frame whose rows first hold a new
kind, so it always covers every row on disk (it may name a kind whose rows a
crash lost, which only widens how a column is read). `merge` writes the
union of its inputs' beside the merged results. A folder written before
kinds were kept has no such file: its cells read by `parse_cell`'s rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from splitter.store.celltypes import UNKNOWN, ColumnKinds
from splitter.store.frames import CorruptFileError
from splitter.store.jsonfile import read_json_object
from splitter.store.manifest import write_text_atomically

__all__ = [
    "TYPES_FORMAT",
    "TYPES_NAME",
    "Kinds",
    "read_types",
    "types_text",
    "union_of",
    "write_types",
]

TYPES_NAME = "results.types.json"
TYPES_FORMAT = 1
_LIMIT = 16 << 20
_FIX = "delete it to read the results by their texts alone, or restore the one splitter wrote"

Kinds = Mapping[str, frozenset[str]]
"""{job column: the kinds its values had}; a column not named held only empty cells."""


def write_types(path: Path, kinds: ColumnKinds) -> None:
    """Replace the types file ``path`` with ``kinds`` in one rename."""
    write_text_atomically(path, types_text(kinds))


def types_text(kinds: ColumnKinds) -> str:
    """The types file's content for ``kinds``."""
    record = {"format": TYPES_FORMAT, "columns": kinds.as_json()}
    return json.dumps(record, sort_keys=True) + "\n"


def read_types(path: Path) -> dict[str, frozenset[str]] | None:
    """The kinds ``path`` records per column; None when there is no such file."""
    try:
        data = read_json_object(path, _LIMIT, _FIX)
    except FileNotFoundError:
        return None
    columns = data.get("columns")
    if data.get("format") != TYPES_FORMAT or not isinstance(columns, dict):
        raise CorruptFileError(
            f"{path} is not a types record of this version of splitter (format"
            f" {data.get('format')!r}, columns {type(columns).__name__}); {_FIX}"
        )
    kinds: dict[str, frozenset[str]] = {}
    for name, held in columns.items():
        if not isinstance(held, list) or not all(isinstance(kind, str) for kind in held):
            raise CorruptFileError(f"{path} lists {held!r} for column {name!r}; {_FIX}")
        kinds[name] = frozenset(held)
    return kinds


def union_of(records: list[tuple[Kinds | None, tuple[str, ...]]]) -> ColumnKinds:
    """The kinds of a merge of folders: each (its kinds or None, its job columns).

    A folder without a record makes each of its columns unknown (read by
    `parse_cell`'s rules): its cells could be of any kind.
    """
    union = ColumnKinds()
    for kinds, columns in records:
        if kinds is None:
            union.add_all((name, UNKNOWN) for name in columns)
        else:
            union.add_all((name, kind) for name, held in kinds.items() for kind in held)
    union.take()
    return union
