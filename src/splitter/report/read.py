"""Stream a merged results file into a few compact columns and a failure tally.

    M/results.csv.zst (frames) or M/results.csv --text pieces, whole rows--> Columns + Failures

Only the first six cells of each row are read (job_id, machine, status,
start_time, duration, error); job columns are skipped. Memory is about 27
bytes per row plus one entry per distinct error message (capped), so 3 x 10^6
rows fit well under 1 GiB. A piece of text without a quote character is split
by `str.split` and converted by NumPy in bulk; a piece with quotes goes
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
from splitter.store.frames import CorruptFileError, FrameReader
from splitter.store.results import BASE_COLUMNS, RESULTS_NAME, STATUSES

__all__ = ["OTHER_MESSAGES", "Columns", "Failures", "merged_results_path", "read_columns"]

_PLAIN_NAME = "results.csv"
_BLOCK_CHARS = 1 << 22
_FIRST_IDS = 5
_MAX_MESSAGES = 10_000  # distinct messages kept; the rest are counted together
OTHER_MESSAGES = "(other messages)"
_READ = 6  # job_id, machine, status, start_time, duration, error
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
    for number, text in enumerate(pieces):
        if number == 0:
            text = reader.header(text)
        reader.piece(text)
    return reader.columns(), reader.failures


class _Reader:
    """Collects the columns of successive pieces of whole rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.failures = Failures()
        self.index: dict[str, int] = {}
        self.width = len(BASE_COLUMNS)
        self.parts: list[tuple[npt.NDArray[np.generic], ...]] = []

    def header(self, text: str) -> str:
        line, _, rest = text.partition("\n")
        names = tuple(next(csv.reader([line]), ()))
        if names[: len(BASE_COLUMNS)] != BASE_COLUMNS:
            raise CorruptFileError(
                f"{self.path} has no splitter results header (its first line is {line[:80]!r});"
                " pass the folder that `merge` wrote"
            )
        self.width = len(names)
        return rest

    def piece(self, text: str) -> None:
        if not text:
            return
        width = self.width
        cells = [] if '"' in text else text.replace("\n", ",").split(",")
        # Without quotes a cell holds no comma, so every row is `width` cells in a row.
        if cells and len(cells) - 1 == text.count("\n") * width:
            cells.pop()  # the text ends in a newline, now a comma
            cols = [cells[i::width] for i in range(_READ)]
        else:
            rows = list(csv.reader(io.StringIO(text)))
            if any(len(row) != width for row in rows):
                raise self._bad(f"a row that has not the header's {width} cells")
            cols = [[row[i] for row in rows] for i in range(_READ)]
        try:
            self._keep(cols)
        except (ValueError, KeyError) as exc:
            raise self._bad(f"a row whose cells are not valid ({exc})") from None

    def _bad(self, problem: str) -> CorruptFileError:
        return CorruptFileError(
            f"{self.path} holds {problem}; it was edited or damaged: merge again with --force"
        )

    def _keep(self, cols: list[list[str]]) -> None:
        job_id = np.array(cols[0], dtype=np.int64)
        machine = np.array([self.index.setdefault(m, len(self.index)) for m in cols[1]])
        status = np.array([_STATUS_CODE[s] for s in cols[2]], dtype=np.uint8)
        start = np.array(cols[3], dtype=np.float64)
        duration = np.array(cols[4], dtype=np.float64)
        if len(job_id) and (not np.isfinite(start).all() or not np.isfinite(duration).all()):
            raise ValueError("a start_time or duration that is not a finite number")
        for row in np.flatnonzero(status).tolist():
            self.failures.add(cols[5][row], cols[2][row], int(job_id[row]))
        self.parts.append((job_id, machine.astype(np.int32), status, start, duration))

    def columns(self) -> Columns:
        kinds = (np.int64, np.int32, np.uint8, np.float64, np.float64)
        joined = [
            np.concatenate([part[i] for part in self.parts]).astype(kind, copy=False)
            if self.parts
            else np.zeros(0, dtype=kind)
            for i, kind in enumerate(kinds)
        ]
        return Columns(tuple(self.index), *joined)


def _frames(path: Path) -> Iterator[str]:
    reader = FrameReader(path)
    for payload in reader:
        yield payload.decode("utf-8", "replace")
    if reader.damage is not None:
        raise CorruptFileError(
            f"{path}: {reader.damage}; merge again with --force to rewrite the merged files"
        )


def _blocks(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8", newline="", errors="replace") as f:
        while block := f.read(_BLOCK_CHARS):
            yield block


def _whole_rows(pieces: Iterator[str]) -> Iterator[str]:
    """Re-cut text pieces so that each ends at a row's end (a newline outside quotes)."""
    pending = ""
    for piece in pieces:
        text = pending + piece
        cut = text.rfind("\n") + 1
        # A newline ends a row when the quotes before it are balanced.
        while cut and text.count('"', 0, cut) % 2:
            cut = text.rfind("\n", 0, cut - 1) + 1
        pending = text[cut:]
        if cut:
            yield text[:cut]
    if pending:
        yield pending if pending.endswith("\n") else pending + "\n"
