"""What type each job column's values had, so a cell's text reads back as that value.

    value --kind_of--> a kind ("int", "float", "array:<f8", ...)
    kinds seen per column (ColumnKinds) --results.types.json--> reader
    cell text + the column's kinds --column_reader--> the value again

A cell's text alone cannot tell the str "42" from the int 42; the writer
notes the kinds each column held (once per kind, not per row) and the reader
converts each column by them. A column of one kind reads exactly; ints,
floats and bools mixed read exactly too (their texts never look alike); any
other mixture, and a column no record covers, reads by `parse_cell`'s rules.
An empty cell reads as None.

Pure and light to import: workers use `kind_of` while they format rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "UNKNOWN",
    "CellReader",
    "ColumnKinds",
    "column_reader",
    "kind_of",
    "parse_cell",
]

UNKNOWN = "?"
"""The kind of a column whose values came from where no kinds were kept."""

CellReader = Callable[[str], Any]

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|nan|inf)")
_NUMBERS = frozenset(("int", "float", "bool"))
_JSON = frozenset(("list", "tuple", "dict"))
# NumPy dtype kinds whose arrays come back from their JSON lists as they were.
_ARRAY_DTYPES = frozenset("biuf")


def kind_of(value: object) -> str:
    """The kind of one returned value, as `splitter.store.rowformat.cell_text` stores it."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if type(value).__module__ == "numpy":
        dtype, ndim = getattr(value, "dtype", None), getattr(value, "ndim", 0)
        if ndim and dtype is not None and dtype.kind in _ARRAY_DTYPES:
            return f"array:{dtype.str}"
        tolist = getattr(value, "tolist", None)
        if callable(tolist):
            return kind_of(tolist())
    if isinstance(value, tuple):
        return "tuple"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return "str"  # another object is stored as its str()


class ColumnKinds:
    """The kinds each column has held; ``fresh`` lists the (column, kind) pairs added since `take`.

    "none" is not kept: an empty cell reads as None whatever the column.
    """

    def __init__(self, known: Mapping[str, Iterable[str]] | None = None) -> None:
        self.known = {name: set(kinds) for name, kinds in (known or {}).items()}
        self.fresh: list[tuple[str, str]] = []

    def add(self, name: str, kind: str) -> None:
        """Note that column ``name`` held a value of ``kind``."""
        if kind == "none":
            return
        kinds = self.known.setdefault(name, set())
        if kind not in kinds:
            kinds.add(kind)
            self.fresh.append((name, kind))

    def add_all(self, pairs: Iterable[tuple[str, str]]) -> None:
        """`add` each (column, kind) pair."""
        for name, kind in pairs:
            self.add(name, kind)

    def take(self) -> tuple[tuple[str, str], ...]:
        """The pairs added since the last call, and forget them."""
        pairs, self.fresh = tuple(self.fresh), []
        return pairs

    def frozen(self) -> dict[str, frozenset[str]]:
        """{column: its kinds}, to read cells by."""
        return {name: frozenset(kinds) for name, kinds in self.known.items()}

    def as_json(self) -> dict[str, list[str]]:
        """{column: sorted kinds}, as results.types.json keeps them."""
        return {name: sorted(kinds) for name, kinds in self.known.items()}


def parse_cell(text: str) -> object:
    """A cell's text back as a typed value, when no kinds tell its type.

    '' -> None; an integer literal ('42', '-7') -> int; a float literal
    ('1.5', '1e-07', 'nan', '-inf') -> float; 'True'/'False' -> bool; any other
    text stays a str. So a str that looks like a number comes back as one.
    """
    if not text:
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if text == "True" or text == "False":
        return text == "True"
    return text


def column_reader(kinds: Iterable[str] | None) -> CellReader:
    """How to read a column's cells back, given the kinds it held (None: not recorded)."""
    held = frozenset(kinds) if kinds is not None else frozenset((UNKNOWN,))
    if not held:
        return _none
    if held <= _NUMBERS:
        return parse_cell  # the texts of ints, floats and bools never look alike
    if held == {"str"}:
        return _text
    if held <= _JSON:
        return _tuple if held == {"tuple"} else _json
    if all(kind.startswith("array:") for kind in held):
        return _array_reader(next(iter(held))[6:] if len(held) == 1 else None)
    return parse_cell


def _none(text: str) -> None:
    return None


def _text(text: str) -> str | None:
    return text or None


def _json(text: str) -> Any:
    return json.loads(text) if text else None


def _tuple(text: str) -> tuple[Any, ...] | None:
    return tuple(json.loads(text)) if text else None


def _array_reader(dtype: str | None) -> CellReader:
    import numpy as np

    def read(text: str) -> Any:
        return np.asarray(json.loads(text), dtype=dtype) if text else None

    return read
