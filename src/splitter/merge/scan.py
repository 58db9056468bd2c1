"""Stream a host folder's results into one kept row per job.

    results.csv.zst --scan_results--> BestRows (one kept row per job) + Scan (counts, damage)

Shared by `merge` and `status`. `scan_results` streams a results file frame
by frame. A frame without a quote character is indexed by array operations
(`plain_frame_index`) and its rows are kept as the text they were read as, so
3 x 10^6 rows merge in seconds; other frames go through `csv`.

A row names its job twice: by `job_id` (its index in the pool of the plan
that ran it) and by `job_key`. Rows of the plan being merged keep their job
id; a folder that also holds rows of earlier plans has every row found by
its key instead (``find``): a job of the merged plan gets that plan's job id
written in, and a row of a job no longer in the pool is left out and counted.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from splitter.campaign.identity import parse_key_texts
from splitter.merge.rules import (
    STATUS_CODES,
    Attempt,
    BestRows,
    column_layout,
    plain_frame_index,
)
from splitter.store.frames import CorruptFileError, FrameReader
from splitter.store.hostfolder import HostFolder
from splitter.store.results import BASE_COLUMNS, STATUSES, ResultsReader
from splitter.store.rowformat import csv_field

__all__ = ["BadStartTime", "FindJobs", "Promoted", "Scan", "attempt_of", "scan_results"]

_BASE = len(BASE_COLUMNS)
_KEY = BASE_COLUMNS.index("job_key")

FindJobs = Callable[[npt.NDArray[np.uint64]], npt.NDArray[np.int64]]
"""Job keys ((rows, 2) uint64) -> their job ids in the merged plan, -1 for none."""


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
    gone: int = 0
    """Rows of jobs that are not in the merged plan's pool (left out)."""


def scan_results(
    host: HostFolder,
    union: tuple[str, ...],
    best: BestRows[str | Promoted],
    promoted: dict[str, None],
    *,
    times: bool = False,
    find: FindJobs | None = None,
) -> Scan:
    """Offer every row of the host's results to `best`, as a line of `union`'s job columns.

    A kept row is the text of its cells up to the last of `union` (quoted as
    `splitter.store.results` quotes them), or a `Promoted` when its `extra` cell held
    names not in `union`; those names are added to `promoted` in the order
    first seen. `times` also finds the first start and the last end. With
    `find`, rows find their job ids by job key (see the module's docstring).
    """
    scan = Scan(host.results)
    if not host.results.exists():
        return scan
    header = ResultsReader(host.results).header  # refuses a non-zstd file or a wrong header
    scan.found = True
    scanner = _Scanner(host, header[_BASE:-1], union, best, promoted, times, find)
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
    scan.rows, scan.gone = scanner.rows, scanner.gone
    scan.statuses = {s: int(n) for s, n in zip(STATUSES, scanner.tally, strict=True) if n}
    scan.damage, scan.first_start, scan.last_end = frames.damage, scanner.first, scanner.last
    return scan


class BadStartTime(ValueError):
    """A kept row's start_time is not a number; `job` names its job_id cell."""

    def __init__(self, job: str, text: str) -> None:
        super().__init__(f"job {job} has start_time {text!r}")
        self.job, self.text = job, text


def attempt_of(row: str | Promoted, code: int) -> Attempt:
    """What decides between a kept row and another of its job (`BestRows` asks only then)."""
    line = row if isinstance(row, str) else row.line
    cells = next(csv.reader([line])) if '"' in line else line.split(",")
    try:
        start = float(cells[3])
    except ValueError:
        raise BadStartTime(cells[0], cells[3]) from None
    values = ",".join(map(csv_field, cells[_BASE:]))
    if isinstance(row, Promoted):
        values += json.dumps(row.cells, sort_keys=True)
    return Attempt(code, start, cells[1], values)


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
        find: FindJobs | None,
    ) -> None:
        self.host, self.best, self.promoted, self.times = host, best, promoted, times
        self.find = find
        self.gone = 0
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
        index = plain_frame_index(data, self.width, self.find is not None) if plain else None
        if index is None or (
            self.find is None and len(index.job_ids) and index.job_ids.max() >= self.best.total
        ):
            return self._cells(csv.reader(io.StringIO(self._decode(data, end))))
        job_ids, codes = index.job_ids, index.codes
        # Every line ends in its empty `extra` cell, so splitting at ",\n" also drops it.
        lines = self._decode(data, end).split(",\n")
        lines.pop()
        self.rows += len(lines)
        self.tally += np.bincount(codes, minlength=len(STATUSES))
        if self.find is not None and index.keys is not None:
            job_ids, lines, codes = self._renumbered(job_ids, self.find(index.keys), lines, codes)
        if self.padding:
            pad = "," * len(self.padding)
            lines = [line + pad for line in lines]
        self.best.offer_many(job_ids, codes, lines)

    def _renumbered(
        self,
        recorded: npt.NDArray[np.int64],
        found: npt.NDArray[np.int64],
        lines: list[str],
        codes: npt.NDArray[np.uint8],
    ) -> tuple[npt.NDArray[np.int64], list[str], npt.NDArray[np.uint8]]:
        """The rows of jobs in the merged plan, each line with that plan's job id."""
        for row in np.flatnonzero((found != recorded) & (found >= 0)).tolist():
            line = lines[row]
            lines[row] = f"{found[row]}{line[line.index(',') :]}"
        kept = found >= 0
        self.gone += int(np.count_nonzero(~kept))
        if kept.all():
            return found, lines, codes
        return (
            found[kept],
            [line for line, keep in zip(lines, kept, strict=True) if keep],
            codes[kept],
        )

    def _cells(self, rows: Iterable[list[str]]) -> None:
        every: list[list[str]] = []
        try:
            for cells in rows:
                if len(cells) != self.width:  # at once: a crafted frame of 4M empty lines
                    number = self.rows + len(every) + 1
                    raise self._bad(number, f"has {len(cells)} cells, not {self.width}")
                every.append(cells)
        except csv.Error as exc:
            raise self._bad(self.rows + len(every) + 1, f"is not valid CSV ({exc})") from None
        found = self._found(every) if self.find is not None else None
        for number, cells in enumerate(every):
            self.rows += 1
            code = self._check(cells, found is None)
            self.tally[code] += 1
            if found is not None:
                if found[number] < 0:
                    self.gone += 1
                    continue
                cells[0] = str(found[number])
            self.best.offer(int(cells[0]), code, self._payload(cells))

    def _found(self, rows: list[list[str]]) -> npt.NDArray[np.int64]:
        assert self.find is not None
        keys = [cells[_KEY] if len(cells) == self.width else "" for cells in rows]
        words, valid = parse_key_texts(keys)
        if not valid.all():
            number = self.rows + int(np.flatnonzero(~valid)[0]) + 1
            raise self._bad(number, "has a job_key that is not 32 hex digits")
        return self.find(words)

    def _decode(self, data: bytes, end: int) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptFileError(
                f"{self.host.results} holds bytes that are not UTF-8 in its frame ending at"
                f" byte {end}; restore the file splitter wrote there, or move this one aside"
            ) from None

    def _check(self, cells: list[str], own_ids: bool) -> int:
        """The row's status code, once its cells are checked; ``own_ids``: its job_id counts."""
        if len(cells) != self.width:
            raise self._bad(self.rows, f"has {len(cells)} cells, not {self.width}")
        job, _, status, start, duration = cells[:5]
        code = STATUS_CODES.get(status)
        if code is None:
            raise self._bad(self.rows, f"has status {status!r}, not one of {', '.join(STATUSES)}")
        valid = job.isascii() and job.isdigit()
        if not valid or (own_ids and int(job) >= self.best.total):
            raise self._bad(self.rows, f"has job_id {job!r}, not one of 0..{self.best.total - 1}")
        try:
            began = float(start)
            if self.times:
                self._track(began, began + float(duration))
        except ValueError:
            problem = "has a start_time or duration that is not a number"
            raise self._bad(self.rows, problem) from None
        return code

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
