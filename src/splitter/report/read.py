"""Stream a merged results file into compact columns, a failure tally and a sample of values.

    M/results.csv.zst (frames) or M/results.csv --text pieces, whole rows--> ResultTable:
        Columns (job_id, machine, status, start, duration of every row)
        Failures (failed rows by message pattern)
        ValueSample (every k-th row's numeric result columns, bounded)
        details (the parameters of the first failed jobs of each pattern and of the slowest)

Columns are found by name in the header; the base columns (and `job_key`,
`input`, `origin`, `extra`) are not results. Memory is about 27 bytes per row
plus bounded tallies, so 3 x 10^6 rows fit well under 1 GiB. A piece of text
without a quote character is split by array operations
(`splitter.report.cells`); a piece with quotes goes through `csv`. The pieces
come from `splitter.report.pieces`, each a run of whole rows.
"""

from __future__ import annotations

import csv
import heapq
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from splitter.errors import ConfigError
from splitter.report.cells import PlainCells, number_cells, plain_cells, row_cells
from splitter.report.failures import Failures
from splitter.report.pieces import row_pieces
from splitter.report.sample import ValueSample
from splitter.store.frames import CorruptFileError
from splitter.store.results import BASE_COLUMNS, RESULTS_NAME, STATUSES

__all__ = ["NOT_RESULTS", "Columns", "ResultTable", "merged_results_path", "read_columns"]

NOT_RESULTS = frozenset((*BASE_COLUMNS, "job_key", "input", "origin", "extra"))
_PLAIN_NAME = "results.csv"
_SAMPLED_COLUMNS = 6  # the first result columns sampled; the page draws the numeric ones
_SLOWEST = 10
_DETAIL_CELLS = 8  # result cells named in a job's parameters, when it has no `input`
_DETAIL_CHARS = 1000
_HEAD = ",".join(BASE_COLUMNS).encode()
_STATUS_CODE = {status: code for code, status in enumerate(STATUSES)}


@dataclass(frozen=True)
class Columns:
    """One entry per merged row; `machine` and `status` index `machines` and STATUSES."""

    machines: tuple[str, ...]
    job_id: npt.NDArray[np.int64]
    machine: npt.NDArray[np.int32]
    status: npt.NDArray[np.uint8]
    start: npt.NDArray[np.float64]
    duration: npt.NDArray[np.float64]

    @property
    def end(self) -> npt.NDArray[np.float64]:
        """Each row's end time (start + duration)."""
        return self.start + self.duration


@dataclass(frozen=True)
class ResultTable:
    """What the report reads from the merged results."""

    columns: Columns
    failures: Failures
    values: dict[str, npt.NDArray[np.float64]]
    """Sampled numeric result columns (every `stride`-th row), in header order."""
    stride: int
    details: dict[int, str]
    """Job id -> its parameters (`input`, else its first result cells), for the first failed
    jobs of each pattern and for the slowest jobs."""
    has_input: bool


def merged_results_path(merged: Path) -> Path:
    """The merged folder's results file: results.csv.zst, else results.csv (`merge --plain`)."""
    for name in (RESULTS_NAME, _PLAIN_NAME):
        if (merged / name).exists():
            return merged / name
    raise ConfigError(
        f"{merged} holds no {RESULTS_NAME} or {_PLAIN_NAME}; pass the folder that"
        " `merge DIR... --out M` wrote (M)"
    )


def read_columns(path: Path) -> ResultTable:
    """Read a merged results file into a `ResultTable`, streaming."""
    reader = _Reader(path)
    for number, data in enumerate(row_pieces(path, _HEAD, reader.no_header)):
        if number == 0:
            data = reader.header(data)
        reader.piece(data)
    return reader.table()


class _Reader:
    """Collects the columns of successive pieces of whole rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.failures = Failures()
        self.index: dict[str, int] = {}
        self.names: tuple[str, ...] = BASE_COLUMNS
        self.sample = ValueSample(())
        self.details: dict[int, str] = {}  # of the failures' first ids
        self.slow: list[tuple[float, int]] = []  # (duration, -job_id): the least slow on top
        self.slow_details: dict[int, str] = {}
        self.parts: list[tuple[npt.NDArray[np.generic], ...]] = []

    def header(self, data: bytes) -> bytes:
        line, _, rest = data.partition(b"\n")
        text = line.decode("utf-8", "replace")
        names = tuple(next(csv.reader([text]), ()))
        if names[: len(BASE_COLUMNS)] != BASE_COLUMNS:
            raise self.no_header(text)
        self.names = names
        results = [name for name in names if name not in NOT_RESULTS]
        self.sample = ValueSample(results[:_SAMPLED_COLUMNS])
        return rest

    def no_header(self, text: str) -> CorruptFileError:
        return CorruptFileError(
            f"{self.path} has no splitter results header (its first line is {text[:80]!r});"
            " pass the folder that `merge` wrote"
        )

    def piece(self, data: bytes) -> None:
        if not data:
            return
        cells = None if b'"' in data else plain_cells(data, len(self.names))
        try:
            if cells is None:
                self._keep_rows(data)
            else:
                self._keep_cells(data, cells)
        except (ValueError, KeyError) as exc:
            raise self._bad(f"a row whose cells are not valid ({exc})") from None

    def _keep_cells(self, data: bytes, cells: PlainCells) -> None:
        machines = np.array([self.index.setdefault(m, len(self.index)) for m in cells.machines])
        picked = self.sample.picked(len(cells.job_id))
        values = {
            name: number_cells(data, cells, self.names.index(name), picked)
            for name in self.sample.wanted
        }
        self.sample.add(len(cells.job_id), picked, values)
        self._keep(cells.job_id, machines[cells.machine], cells.status, cells.start,
                   cells.duration, cells.errors,
                   lambda row: self._detail(row_cells(data, cells, row)))  # fmt: skip

    def _keep_rows(self, data: bytes) -> None:
        """The `csv` way: quoted cells, or a piece that the array parser refused."""
        rows = list(csv.reader(io.StringIO(data.decode("utf-8", "replace"))))
        if any(len(row) != len(self.names) for row in rows):
            raise self._bad(f"a row that has not the header's {len(self.names)} cells")
        picked = self.sample.picked(len(rows))
        values = {
            name: _floats([rows[r][self.names.index(name)] for r in picked.tolist()])
            for name in self.sample.wanted
        }
        self.sample.add(len(rows), picked, values)
        status = np.array([_STATUS_CODE[row[2]] for row in rows], dtype=np.uint8)
        self._keep(
            np.array([row[0] for row in rows], dtype=np.int64),
            np.array([self.index.setdefault(row[1], len(self.index)) for row in rows]),
            status,
            np.array([row[3] for row in rows], dtype=np.float64),
            np.array([row[4] for row in rows], dtype=np.float64),
            {number: rows[number][5] for number in np.flatnonzero(status).tolist()},
            lambda row: self._detail(rows[row]),
        )

    def _keep(
        self,
        job_id: npt.NDArray[np.int64],
        machine: npt.NDArray[np.intp],
        status: npt.NDArray[np.uint8],
        start: npt.NDArray[np.float64],
        duration: npt.NDArray[np.float64],
        errors: dict[int, str],
        detail: Callable[[int], str],
    ) -> None:
        if not (np.isfinite(start).all() and np.isfinite(duration).all()):
            raise ValueError("a start_time or duration that is not a finite number")
        for row, message in errors.items():
            if self.failures.add(message, STATUSES[status[row]], int(job_id[row])):
                self.details[int(job_id[row])] = detail(row)
        self._keep_slowest(job_id, duration, detail)
        self.parts.append((job_id, machine.astype(np.int32), status, start, duration))

    def _keep_slowest(
        self,
        job_id: npt.NDArray[np.int64],
        duration: npt.NDArray[np.float64],
        detail: Callable[[int], str],
    ) -> None:
        """Keep the `_SLOWEST` longest rows so far (ties: the lower job id) with their details."""
        floor = self.slow[0][0] if len(self.slow) == _SLOWEST else -np.inf
        rows = np.flatnonzero(duration >= floor)
        if len(rows) > _SLOWEST:  # only the piece's own slowest can enter
            rows = rows[np.lexsort((job_id[rows], -duration[rows]))[:_SLOWEST]]
        for row in rows.tolist():
            key = (float(duration[row]), -int(job_id[row]))
            if len(self.slow) < _SLOWEST:
                heapq.heappush(self.slow, key)
            elif key > self.slow[0]:
                self.slow_details.pop(-heapq.heapreplace(self.slow, key)[1], None)
            else:
                continue
            self.slow_details[int(job_id[row])] = detail(row)

    def _detail(self, cells: list[str]) -> str:
        """A job's parameters: its `input` cell, else its first result cells as name=value."""
        named = dict(zip(self.names, cells, strict=False))
        text = named.get("input", "")
        if not text:
            pairs = [(name, named[name]) for name in self.sample.names[:_DETAIL_CELLS]]
            text = ", ".join(f"{name}={value}" for name, value in pairs if value)
        return text[:_DETAIL_CHARS]

    def _bad(self, problem: str) -> CorruptFileError:
        return CorruptFileError(
            f"{self.path} holds {problem}; it was edited or damaged: merge again with --force"
        )

    def table(self) -> ResultTable:
        kinds = (np.int64, np.int32, np.uint8, np.float64, np.float64)
        joined = [
            np.concatenate([part[i] for part in self.parts]).astype(kind, copy=False)
            if self.parts
            else np.zeros(0, dtype=kind)
            for i, kind in enumerate(kinds)
        ]
        return ResultTable(
            Columns(tuple(self.index), *joined), self.failures, self.sample.columns(),
            self.sample.stride, {**self.slow_details, **self.details}, "input" in self.names,
        )  # fmt: skip


def _floats(cells: list[str]) -> npt.NDArray[np.float64] | None:
    """Cells as numbers, NaN where empty; None when one is text."""
    try:
        return np.array([float(cell) if cell else np.nan for cell in cells], dtype=np.float64)
    except ValueError:
        return None
