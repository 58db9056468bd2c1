"""Stream a merged results file into a few compact columns and a failure tally.

    M/results.csv.zst (frames) or M/results.csv --text pieces, whole rows--> Columns + Failures

Only the first six cells of each row are read (job_id, machine, status,
start_time, duration, error); job columns are skipped. Memory is about 27
bytes per row plus one entry per distinct error message (capped), so 3 x 10^6
rows fit well under 1 GiB. A piece of text without a quote character is split
by array operations (`splitter.report.cells`); a piece with quotes goes
through `csv`. Pieces are cut at a line end with an even count of quotes, so a
quoted cell holding a newline or a frame cut mid-row never splits a row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from splitter.errors import ConfigError
from splitter.report.cells import plain_cells
from splitter.store.frames import CorruptFileError, FrameReader
from splitter.store.results import BASE_COLUMNS, RESULTS_NAME, STATUSES

__all__ = ["OTHER_MESSAGES", "Columns", "Failures", "merged_results_path", "read_columns"]

_PLAIN_NAME = "results.csv"
_BLOCK_BYTES = 1 << 22
_FIRST_IDS = 5
_MAX_MESSAGES = 10_000  # distinct messages kept; the rest are counted together
OTHER_MESSAGES = "(other messages)"
_STATUS_CODE = {status: code for code, status in enumerate(STATUSES)}


@dataclass
class Failures:
    """Failed rows by error message: count, statuses seen, and the first job ids."""

    counts: dict[str, int] = field(default_factory=dict)
    first_ids: dict[str, list[int]] = field(default_factory=dict)
    statuses: dict[str, set[str]] = field(default_factory=dict)

    def add(self, message: str, status: str, job_id: int) -> None:
        """Count one failed row (rows come in job_id order, so the first ids are the lowest)."""
        if message not in self.counts and len(self.counts) >= _MAX_MESSAGES:
            message = OTHER_MESSAGES
        if message in self.counts:
            self.counts[message] += 1
            self.statuses[message].add(status)
            ids = self.first_ids[message]
            if len(ids) < _FIRST_IDS:
                ids.append(job_id)
        else:
            self.counts[message] = 1
            self.statuses[message] = {status}
            self.first_ids[message] = [job_id]


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


def merged_results_path(merged: Path) -> Path:
    """The merged folder's results file: results.csv.zst, else results.csv (`merge --plain`)."""
    for name in (RESULTS_NAME, _PLAIN_NAME):
        if (merged / name).exists():
            return merged / name
    raise ConfigError(
        f"{merged} holds no {RESULTS_NAME} or {_PLAIN_NAME}; pass the folder that"
        " `merge DIR... --out M` wrote (M)"
    )


def read_columns(path: Path) -> tuple[Columns, Failures]:
    """Read a merged results file into `Columns` and the `Failures` tally, streaming."""
    reader = _Reader(path)
    pieces = _whole_rows(_frames(path) if path.suffix == ".zst" else _blocks(path))
    for number, data in enumerate(pieces):
        if number == 0:
            data = reader.header(data)
        reader.piece(data)
    return reader.columns(), reader.failures


class _Reader:
    """Collects the columns of successive pieces of whole rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.failures = Failures()
        self.index: dict[str, int] = {}
        self.width = len(BASE_COLUMNS)
        self.parts: list[tuple[npt.NDArray[np.generic], ...]] = []

    def header(self, data: bytes) -> bytes:
        line, _, rest = data.partition(b"\n")
        text = line.decode("utf-8", "replace")
        names = tuple(next(csv.reader([text]), ()))
        if names[: len(BASE_COLUMNS)] != BASE_COLUMNS:
            raise CorruptFileError(
                f"{self.path} has no splitter results header (its first line is {text[:80]!r});"
                " pass the folder that `merge` wrote"
            )
        self.width = len(names)
        return rest

    def piece(self, data: bytes) -> None:
        if not data:
            return
        cells = None if b'"' in data else plain_cells(data, self.width)
        try:
            if cells is None:
                self._keep_rows(data)
            else:
                machines = np.array(
                    [self.index.setdefault(m, len(self.index)) for m in cells.machines]
                )
                self._keep(cells.job_id, machines[cells.machine], cells.status, cells.start,
                           cells.duration, cells.errors)  # fmt: skip
        except (ValueError, KeyError) as exc:
            raise self._bad(f"a row whose cells are not valid ({exc})") from None

    def _keep_rows(self, data: bytes) -> None:
        """The `csv` way: quoted cells, or a piece that the array parser refused."""
        rows = list(csv.reader(io.StringIO(data.decode("utf-8", "replace"))))
        if any(len(row) != self.width for row in rows):
            raise self._bad(f"a row that has not the header's {self.width} cells")
        status = np.array([_STATUS_CODE[row[2]] for row in rows], dtype=np.uint8)
        self._keep(
            np.array([row[0] for row in rows], dtype=np.int64),
            np.array([self.index.setdefault(row[1], len(self.index)) for row in rows]),
            status,
            np.array([row[3] for row in rows], dtype=np.float64),
            np.array([row[4] for row in rows], dtype=np.float64),
            {number: rows[number][5] for number in np.flatnonzero(status).tolist()},
        )

    def _keep(
        self,
        job_id: npt.NDArray[np.int64],
        machine: npt.NDArray[np.intp],
        status: npt.NDArray[np.uint8],
        start: npt.NDArray[np.float64],
        duration: npt.NDArray[np.float64],
        errors: dict[int, str],
    ) -> None:
        if not (np.isfinite(start).all() and np.isfinite(duration).all()):
            raise ValueError("a start_time or duration that is not a finite number")
        for row, message in errors.items():
            self.failures.add(message, STATUSES[status[row]], int(job_id[row]))
        self.parts.append((job_id, machine.astype(np.int32), status, start, duration))

    def _bad(self, problem: str) -> CorruptFileError:
        return CorruptFileError(
            f"{self.path} holds {problem}; it was edited or damaged: merge again with --force"
        )

    def columns(self) -> Columns:
        kinds = (np.int64, np.int32, np.uint8, np.float64, np.float64)
        joined = [
            np.concatenate([part[i] for part in self.parts]).astype(kind, copy=False)
            if self.parts
            else np.zeros(0, dtype=kind)
            for i, kind in enumerate(kinds)
        ]
        return Columns(tuple(self.index), *joined)


def _frames(path: Path) -> Iterator[bytes]:
    reader = FrameReader(path)
    yield from reader
    if reader.damage is not None:
        raise CorruptFileError(
            f"{path}: {reader.damage}; merge again with --force to rewrite the merged files"
        )


def _blocks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while block := f.read(_BLOCK_BYTES):
            yield block


def _whole_rows(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """Re-cut pieces so that each ends at a row's end (a newline outside quotes)."""
    pending = b""
    for piece in pieces:
        data = pending + piece
        cut = data.rfind(b"\n") + 1
        # A newline ends a row when the quotes before it are balanced.
        while cut and data.count(b'"', 0, cut) % 2:
            cut = data.rfind(b"\n", 0, cut - 1) + 1
        pending = data[cut:]
        if cut:
            yield data[:cut]
    if pending:
        yield pending if pending.endswith(b"\n") else pending + b"\n"
