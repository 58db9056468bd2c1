"""A host or merged folder's results as typed columns, for `read_results` and results.parquet.

    FOLDER/results.csv.zst or results.csv --rows of cell texts-->
    FOLDER/results.types.json (the kinds per column) --column_reader--> Table

A host folder's file holds every attempt (a retried job has several rows)
and an ``extra`` cell of the names that came after its header was fixed:
those become columns of their own, as merge makes them. A merged folder
holds every job once. Cells read as the kinds the writer noted; a folder
written before kinds were kept reads by `parse_cell`'s rules.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splitter.errors import UsageError
from splitter.store.celltypes import column_reader
from splitter.store.frames import CorruptFileError, FrameReader, open_regular
from splitter.store.results import BASE_COLUMNS, EXTRA_COLUMN, RESULTS_NAME
from splitter.store.typesfile import TYPES_NAME, Kinds, read_types

__all__ = ["BASE_KINDS", "PLAIN_RESULTS", "Table", "read_table", "results_file", "table_of"]

log = logging.getLogger(__name__)

PLAIN_RESULTS = "results.csv"
BASE_KINDS: dict[str, frozenset[str]] = {
    name: frozenset((kind,))
    for name, kind in zip(
        BASE_COLUMNS,
        ("int", "str", "str", "float", "float", "str", "str", "str", "str"),
        strict=True,
    )
}
"""The kinds of splitter's own columns, whatever the folder kept."""


@dataclass(frozen=True)
class Table:
    """Typed results: each column's values in row order, and the kinds it held (None: unknown)."""

    columns: dict[str, list[Any]]
    kinds: dict[str, frozenset[str] | None]

    @property
    def rows(self) -> int:
        """How many rows the table has."""
        return len(self.columns["job_id"])

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts, in column order."""
        names = list(self.columns)
        return [
            dict(zip(names, row, strict=True)) for row in zip(*self.columns.values(), strict=True)
        ]


def results_file(folder: Path) -> Path:
    """The results file of a host or merged folder (the newer of two); UsageError if none."""
    found = [folder / name for name in (RESULTS_NAME, PLAIN_RESULTS) if (folder / name).is_file()]
    if found:
        return max(found, key=lambda path: path.stat().st_mtime)
    raise UsageError(
        f"{folder} holds no {RESULTS_NAME} or {PLAIN_RESULTS}; pass a host folder"
        " (OUT/<machine>/) or a merged folder (merge --out)"
    )


def read_table(folder: Path) -> Table:
    """The results of a host or merged folder, each column typed by the kinds it kept."""
    path = results_file(folder)
    return table_of(path, read_types(folder / TYPES_NAME), plain=path.suffix == ".csv")


def table_of(path: Path, kinds: Kinds | None, *, plain: bool) -> Table:
    """The rows of the results file ``path`` (``plain`` CSV, else zstd frames), typed by ``kinds``.

    None for ``kinds`` reads every cell by `parse_cell`'s rules.
    """
    rows = _rows(path, plain)
    header = next(rows, None)
    if header is None or tuple(header[: len(BASE_COLUMNS)]) != BASE_COLUMNS:
        raise CorruptFileError(
            f"{path} has no splitter results header; is it a results file written by splitter?"
        )
    hosted = header[-1] == EXTRA_COLUMN
    names = header[:-1] if hosted else header
    texts: dict[str, list[str]] = {name: [] for name in names}
    lists = list(texts.values())
    extra: dict[str, dict[int, str]] = {}  # a host's later names: row -> cell
    count = 0
    for count, cells in enumerate(rows, 1):
        if len(cells) != len(header):
            raise CorruptFileError(
                f"{path} row {count} has {len(cells)} cells, not {len(header)}; restore the"
                " file splitter wrote there, or move it aside"
            )
        for column, text in zip(lists, cells, strict=False):
            column.append(text)
        if hosted and cells[-1]:
            for name, text in _extra_cells(path, count, cells[-1]).items():
                extra.setdefault(name, {})[count - 1] = text
    for name, cells_of in extra.items():
        texts.setdefault(name, [cells_of.get(row, "") for row in range(count)])
    return _typed(texts, kinds)


def _rows(path: Path, plain: bool) -> Iterator[list[str]]:
    if plain:
        with open_regular(path) as raw, io.TextIOWrapper(raw, "utf-8", newline="") as f:
            yield from csv.reader(f)
        return
    frames = FrameReader(path)
    for payload in frames:
        yield from csv.reader(io.StringIO(payload.decode("utf-8", "replace")))
    if frames.damage is not None:
        log.warning("%s: %s; read the rows before it", path, frames.damage)


def _extra_cells(path: Path, row: int, text: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise CorruptFileError(
            f"{path} row {row} has an extra cell that is not a JSON object; restore the file"
            " splitter wrote there, or move it aside"
        )
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def _typed(texts: dict[str, list[str]], kinds: Kinds | None) -> Table:
    columns: dict[str, list[Any]] = {}
    held: dict[str, frozenset[str] | None] = {}
    for name, column in texts.items():
        held[name] = BASE_KINDS.get(name) or (None if kinds is None else kinds.get(name))
        columns[name] = list(map(column_reader(held[name]), column))
    return Table(columns, held)
