"""Stream a host folder's results into one kept row per job.

    results.csv.zst --scan_results--> BestRows (one kept row per job) + Scan (counts, damage)

Shared by `merge` and `status`. `scan_results` streams a results file frame
by frame. A frame without a quote character is indexed by array operations
(`plain_frame_index`) and its rows are kept as the text they were read as, so
3 x 10^6 rows merge in seconds; other frames go through `csv`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from splitter.merge.rules import STATUS_CODES, BestRows, column_layout, plain_frame_index
from splitter.store.frames import CorruptFileError, FrameReader
from splitter.store.hostfolder import HostFolder
from splitter.store.results import BASE_COLUMNS, STATUSES, ResultsReader
from splitter.store.rowformat import csv_field

__all__ = ["BadStartTime", "Promoted", "Scan", "scan_results", "start_of"]

_BASE = len(BASE_COLUMNS)


@dataclass(frozen=True)
class Promoted:
    """A kept row whose `extra` cell held columns not in any header: its line, and those cells."""

    line: str
    cells: dict[str, str]


@dataclass
class Scan:
    """What `scan_results` read from one results file (rows count every attempt)."""

    path: Path
    found: bool = False
    rows: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    damage: str | None = None
    first_start: float | None = None
    last_end: float | None = None


def scan_results(
    host: HostFolder,
    union: tuple[str, ...],
    best: BestRows[str | Promoted],
    promoted: dict[str, None],
    *,
    times: bool = False,
) -> Scan:
    """Offer every row of the host's results to `best`, as a line of `union`'s job columns.

    A kept row is the text of its cells up to the last of `union` (quoted as
    `splitter.store.results` quotes them), or a `Promoted` when its `extra` cell held
    names not in `union`; those names are added to `promoted` in the order
    first seen. `times` also finds the first start and the last end.
    """
    scan = Scan(host.results)
    if not host.results.exists():
        return scan
    header = ResultsReader(host.results).header  # refuses a non-zstd file or a wrong header
    scan.found = True
    scanner = _Scanner(host, header[_BASE:-1], union, best, promoted, times)
    frames = FrameReader(host.results)
    try:
        for number, payload in enumerate(frames):
            scanner.frame(payload, frames.complete_bytes, first=number == 0)
    except BadStartTime as exc:
        # Rows are indexed in bulk, so the start of a job seen twice is read only now.
        raise CorruptFileError(
            f"{host.results} has a row of job {exc.job} whose start_time {exc.text!r} is not"
            " a number; the file was edited or damaged, so restore the one splitter wrote"
            " or move it aside"
        ) from None
    scan.rows = scanner.rows
    scan.statuses = {s: int(n) for s, n in zip(STATUSES, scanner.tally, strict=True) if n}
    scan.damage, scan.first_start, scan.last_end = frames.damage, scanner.first, scanner.last
    return scan


class BadStartTime(ValueError):
    """A kept row's start_time is not a number; `job` names its job_id cell."""

    def __init__(self, job: str, text: str) -> None:
        super().__init__(f"job {job} has start_time {text!r}")
        self.job, self.text = job, text


def start_of(row: str | Promoted) -> float:
    """The start_time of a kept row (`BestRows` asks only when its job comes again)."""
    line = row if isinstance(row, str) else row.line
    cells = next(csv.reader([line])) if '"' in line else line.split(",", 4)
    try:
        return float(cells[3])
    except ValueError:
        raise BadStartTime(cells[0], cells[3]) from None


class _Scanner:
    """Checks and offers one file's rows; `frame` takes one frame's bytes (whole rows)."""

    def __init__(
        self,
        host: HostFolder,
        columns: tuple[str, ...],
        union: tuple[str, ...],
        best: BestRows[str | Promoted],
        promoted: dict[str, None],
        times: bool,
    ) -> None:
        self.host, self.best, self.promoted, self.times = host, best, promoted, times
        self.width = _BASE + len(columns) + 1
        self.layout = column_layout(columns, union)
        self.padding = [""] * (len(union) - len(columns))
        self.union = {name: index for index, name in enumerate(union)}
        self.rows = 0
        self.tally = np.zeros(len(STATUSES), dtype=np.int64)
        self.first: float | None = None
        self.last: float | None = None

    def frame(self, data: bytes, end: int, *, first: bool) -> None:
        if first:
            head, _, rest = data.partition(b"\n")
            if b'"' in head:  # a quoted column name: let csv find where the header ends
                rows = csv.reader(io.StringIO(self._decode(data, end)))
                next(rows)
                return self._cells(rows)
            data = rest
        plain = self.layout is None and not self.times
        index = plain_frame_index(data, self.width) if plain else None
        if index is None or (len(index[0]) and index[0].max() >= self.best.total):
            return self._cells(csv.reader(io.StringIO(self._decode(data, end))))
        job_ids, codes = index
        # Every line ends in its empty `extra` cell, so splitting at ",\n" also drops it.
        lines = self._decode(data, end).split(",\n")
        lines.pop()
        if self.padding:
            pad = "," * len(self.padding)
            lines = [line + pad for line in lines]
        self.rows += len(lines)
        self.tally += np.bincount(codes, minlength=len(STATUSES))
        self.best.offer_many(job_ids, codes, lines)

    def _cells(self, rows: Iterable[list[str]]) -> None:
        try:
            for cells in rows:
                self.rows += 1
                job_id, code, start = self._check(cells)
                self.tally[code] += 1
                self.best.offer(job_id, code, start, self._payload(cells))
        except csv.Error as exc:
            raise self._bad(self.rows + 1, f"is not valid CSV ({exc})") from None

    def _decode(self, data: bytes, end: int) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptFileError(
                f"{self.host.results} holds bytes that are not UTF-8 in its frame ending at"
                f" byte {end}; restore the file splitter wrote there, or move this one aside"
            ) from None

    def _check(self, cells: list[str]) -> tuple[int, int, float]:
        if len(cells) != self.width:
            raise self._bad(self.rows, f"has {len(cells)} cells, not {self.width}")
        job, _, status, start, duration = cells[:5]
        code = STATUS_CODES.get(status)
        if code is None:
            raise self._bad(self.rows, f"has status {status!r}, not one of {', '.join(STATUSES)}")
        if not (job.isascii() and job.isdigit()) or int(job) >= self.best.total:
            raise self._bad(self.rows, f"has job_id {job!r}, not one of 0..{self.best.total - 1}")
        try:
            began = float(start)
            if self.times:
                self._track(began, began + float(duration))
        except ValueError:
            problem = "has a start_time or duration that is not a number"
            raise self._bad(self.rows, problem) from None
        return int(job), code, began

    def _track(self, began: float, ended: float) -> None:
        self.first = began if self.first is None else min(self.first, began)
        self.last = ended if self.last is None else max(self.last, ended)

    def _payload(self, cells: list[str]) -> str | Promoted:
        own = cells[_BASE:-1]
        if self.layout is None:
            job = own + self.padding
        else:
            job = [own[i] if i >= 0 else "" for i in self.layout]
        moved: dict[str, str] = {}
        for name, text in self._extra(cells[-1]).items():
            if name in self.union:
                job[self.union[name]] = text
            else:
                moved[name] = text
                self.promoted.setdefault(name)
        line = ",".join(map(csv_field, cells[:_BASE] + job))
        return Promoted(line, moved) if moved else line

    def _extra(self, text: str) -> dict[str, str]:
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise self._bad(self.rows, "has an extra cell that is not a JSON object")
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}

    def _bad(self, number: int, problem: str) -> CorruptFileError:
        return CorruptFileError(
            f"{self.host.results} row {number} {problem}; the file was edited or damaged,"
            " so restore the one splitter wrote or move it aside"
        )
