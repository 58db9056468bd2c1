"""The pure rules of `merge` and `status`: which attempt wins, what is missing, what to report.

Data in, data out: no paths are opened, nothing is printed. The I/O around
them lives in `splitter.merge.status` (reading host folders) and `splitter.merge.combine`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from splitter.campaign.digest import full_hex, group_digest
from splitter.campaign.identity import KEY_HEX_DIGITS, parse_key_matrix
from splitter.store.results import BASE_COLUMNS, STATUSES
from splitter.store.rowformat import FAILED_STATUSES

__all__ = [
    "ABSENT",
    "REPORT_NAME",
    "STATUS_CODES",
    "Attempt",
    "BestRows",
    "FolderCounts",
    "FrameIndex",
    "beats",
    "column_layout",
    "merge_report",
    "merge_summary",
    "merged_columns",
    "plain_frame_index",
    "wall_seconds",
]

T = TypeVar("T")

# A status as one byte: 0 is ok, so "ok beats a failure" is "code 0 beats the others".
STATUS_CODES = {status: code for code, status in enumerate(STATUSES)}
REPORT_NAME = "report.json"
ABSENT = 255
_KEY = BASE_COLUMNS.index("job_key")
_SHOWN_MISSING = 10
_MAX_DIGITS = 18  # a job_id of more digits could overflow int64
# For `plain_frame_index`: the statuses' first letters differ, so one byte tells the code.
_CODE_BY_FIRST_BYTE = np.full(256, ABSENT, dtype=np.uint8)
_CODE_BY_FIRST_BYTE[[ord(status[0]) for status in STATUSES]] = range(len(STATUSES))
_STATUS_LENGTHS = np.array([len(status) for status in STATUSES])
_STATUS_BYTES = np.array(
    [list(status.ljust(max(map(len, STATUSES))).encode()) for status in STATUSES], dtype=np.uint8
)


@dataclass(frozen=True)
class Attempt:
    """What decides between two attempts of one job: read from a row only when a job repeats."""

    code: int
    start: float
    machine: str
    values: str
    """The job's own cells, as text: equal values mean equal results."""


def beats(attempt: Attempt, kept: Attempt) -> bool:
    """Whether ``attempt`` replaces the ``kept`` one, whichever was read first.

    ok beats any failure; then the later start; then the machine name that
    sorts last; then the values that sort last. So the winner never depends
    on the order of merge's arguments.
    """
    if (attempt.code == 0) != (kept.code == 0):
        return attempt.code == 0
    return (attempt.start, attempt.machine, attempt.values) > (
        kept.start, kept.machine, kept.values
    )  # fmt: skip


class BestRows(Generic[T]):
    """One kept attempt per job id of a plan of `total` jobs: the winner by `beats` so far.

    Memory is one status byte and one payload slot per job, never all the
    rows offered. A kept attempt's facts are only needed when another attempt
    of its job comes, so they are read from the payload then, by `attempt_of`.
    `duplicates` counts the offers beyond a job's first; `conflicts` holds the
    jobs with two ok attempts of different values.
    """

    def __init__(self, total: int, attempt_of: Callable[[T, int], Attempt]) -> None:
        self.total = total
        self.codes = np.full(total, ABSENT, dtype=np.uint8)
        self.payloads: npt.NDArray[np.object_] = np.full(total, None, dtype=object)
        self.duplicates = 0
        self.conflicts: set[int] = set()
        self._attempt_of = attempt_of

    def offer(self, job_id: int, code: int, payload: T) -> None:
        """Keep this attempt if it is the job's first or beats the kept one."""
        kept = int(self.codes[job_id])
        if kept != ABSENT:
            self.duplicates += 1
            mine = self._attempt_of(payload, code)
            theirs = self._attempt_of(self.payloads[job_id], kept)
            if mine.code == theirs.code == 0 and mine.values != theirs.values:
                self.conflicts.add(job_id)
            if not beats(mine, theirs):
                return
        self.codes[job_id] = code
        self.payloads[job_id] = payload

    def offer_many(
        self, job_ids: npt.NDArray[np.int64], codes: npt.NDArray[np.uint8], payloads: Sequence[T]
    ) -> None:
        """`offer` each attempt in order; those of jobs seen nowhere else are kept in bulk."""
        alone = (self.codes[job_ids] == ABSENT) & ~_repeated(job_ids)
        self.codes[job_ids[alone]] = codes[alone]
        rows = np.fromiter(payloads, dtype=object, count=len(payloads))  # never 2-D, unlike array
        self.payloads[job_ids[alone]] = rows[alone]
        for index in np.flatnonzero(~alone).tolist():
            self.offer(int(job_ids[index]), int(codes[index]), payloads[index])

    def count(self, status: str) -> int:
        """Jobs whose kept attempt has `status`."""
        return int(np.count_nonzero(self.codes == STATUS_CODES[status]))

    @property
    def present(self) -> int:
        """Jobs with at least one attempt."""
        return int(np.count_nonzero(self.codes != ABSENT))

    def ids(self, status: str | None) -> list[int]:
        """Sorted job ids whose kept attempt has `status`; None: the ids with no attempt."""
        code = ABSENT if status is None else STATUS_CODES[status]
        return [int(job_id) for job_id in np.flatnonzero(self.codes == code)]

    def kept(self, start: int, stop: int) -> list[T]:
        """The kept payloads of job ids start..stop-1, in job_id order."""
        present = self.codes[start:stop] != ABSENT
        rows: list[T] = self.payloads[start:stop][present].tolist()
        return rows


def _repeated(job_ids: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Which entries hold a job id that occurs more than once in `job_ids`."""
    flags = np.zeros(len(job_ids), dtype=bool)
    ordered = np.sort(job_ids)  # far faster than argsort, and enough when no id repeats
    if not np.any(ordered[1:] == ordered[:-1]):
        return flags
    order = np.argsort(job_ids)
    same = job_ids[order][1:] == job_ids[order][:-1]
    flags[order[1:][same]] = True
    flags[order[:-1][same]] = True
    return flags


@dataclass(frozen=True)
class FrameIndex:
    """A plain results frame's rows, indexed by array operations (see `plain_frame_index`)."""

    job_ids: npt.NDArray[np.int64]
    codes: npt.NDArray[np.uint8]
    keys: npt.NDArray[np.uint64] | None
    """The rows' job keys as (rows, 2) words, when asked for."""


def plain_frame_index(data: bytes, width: int, keys: bool = False) -> FrameIndex | None:
    """The job ids, status codes (and job keys) of a results frame's rows, by array operations.

    Only for a frame without quote characters, whose lines all have `width`
    cells, the last (`extra`) empty: then commas and line breaks alone
    delimit the cells. None for any other frame, and for one with a job_id
    that is not a plain number, a status not in STATUSES or a job_key that is
    not 32 hex digits: the caller then reads it with `csv`, which names the
    problem.
    """
    if b'"' in data or not data.endswith(b"\n"):
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == ord("\n"))
    commas = np.flatnonzero(buf == ord(","))
    if len(commas) != len(ends) * (width - 1):
        return None
    grid = commas.reshape(len(ends), width - 1)
    begins = np.concatenate(([0], ends[:-1] + 1))
    # With the commas sorted, these bounds put exactly width - 1 commas on every line.
    if not (np.all(grid[:, 0] > begins) and np.all(grid[:, -1] == ends - 1)):
        return None
    job_ids = _numbers(buf, begins, grid[:, 0])
    codes = _status_codes(buf, grid[:, 1] + 1, grid[:, 2])
    if job_ids is None or codes is None:
        return None
    if not keys:
        return FrameIndex(job_ids, codes, None)
    starts, stops = grid[:, _KEY - 1] + 1, grid[:, _KEY]
    if np.any(stops - starts != KEY_HEX_DIGITS):
        return None
    words, valid = parse_key_matrix(buf[starts[:, None] + np.arange(KEY_HEX_DIGITS)])
    return FrameIndex(job_ids, codes, words) if valid.all() else None


def _numbers(
    buf: npt.NDArray[np.uint8], begins: npt.NDArray[np.intp], stops: npt.NDArray[np.intp]
) -> npt.NDArray[np.int64] | None:
    lengths = stops - begins
    if np.any(lengths > _MAX_DIGITS):
        return None
    numbers = np.zeros(len(begins), dtype=np.int64)
    for k in range(int(lengths.max(initial=0))):
        inside = lengths > k
        digits = buf[np.where(inside, begins + k, 0)].astype(np.int64) - ord("0")
        if np.any(inside & ((digits < 0) | (digits > 9))):
            return None
        numbers = np.where(inside, numbers * 10 + digits, numbers)
    return numbers


def _status_codes(
    buf: npt.NDArray[np.uint8], begins: npt.NDArray[np.intp], stops: npt.NDArray[np.intp]
) -> npt.NDArray[np.uint8] | None:
    codes = _CODE_BY_FIRST_BYTE[buf[begins]]
    if np.any(codes == ABSENT):
        return None
    lengths = stops - begins
    if np.any(lengths != _STATUS_LENGTHS[codes]):
        return None
    expected = _STATUS_BYTES[codes]
    for k in range(1, _STATUS_BYTES.shape[1]):
        inside = lengths > k
        if np.any(inside & (buf[np.where(inside, begins + k, 0)] != expected[:, k])):
            return None
    return codes


def merged_columns(
    job_columns: Iterable[Sequence[str]], promoted: Iterable[str]
) -> tuple[str, ...]:
    """The merged header: BASE_COLUMNS, the hosts' job columns first seen first, then promoted.

    `promoted` are the names found in `extra` cells; those already a job
    column of some host are not repeated. There is no `extra` column: every
    name it held has become a column.
    """
    names = dict.fromkeys(name for columns in job_columns for name in columns)
    names.update(dict.fromkeys(promoted))
    return (*BASE_COLUMNS, *names)


def column_layout(host: Sequence[str], union: Sequence[str]) -> tuple[int, ...] | None:
    """Where each of `union`'s job columns is in a host's job columns (-1: absent).

    None when the host's columns are the start of `union`, so that its rows
    only need empty cells appended: the fast path of `merge`.
    """
    if tuple(union[: len(host)]) == tuple(host):
        return None
    position = {name: index for index, name in enumerate(host)}
    return tuple(position.get(name, -1) for name in union)


@dataclass(frozen=True)
class FolderCounts:
    """One input folder's line in the report: its manifest and the rows (attempts) it holds."""

    machine: str
    folder: str
    digest: str
    rows: int
    statuses: Mapping[str, int]
    share: int
    state: str
    wall_seconds: float | None

    def as_json(self) -> dict[str, Any]:
        """The folder's entry of report.json's `machines`."""
        failed = {status: self.statuses.get(status, 0) for status in FAILED_STATUSES}
        return {
            "machine": self.machine,
            "folder": self.folder,
            "digest": self.digest,
            "rows": self.rows,
            "ok": self.statuses.get("ok", 0),
            "failed": failed,
            "share": self.share,
            "state": self.state,
            "wall_seconds": self.wall_seconds,
        }


def wall_seconds(
    started: object, ended: object, first_start: float | None, last_end: float | None
) -> float | None:
    """A host's wall time: from the manifest's started/ended, else from its rows' times."""
    try:
        begin = datetime.strptime(str(started), "%Y-%m-%dT%H:%M:%SZ")
        end = datetime.strptime(str(ended), "%Y-%m-%dT%H:%M:%SZ")
        return (end - begin).total_seconds()
    except ValueError:  # absent (None) while running or after a kill, or not our format
        pass
    if first_start is None or last_end is None or not math.isfinite(last_end - first_start):
        return None  # no rows, or a start_time of `nan` edited in: no wall time, never NaN
    return round(last_end - first_start, 6)


def merge_report(
    campaign: Mapping[str, str],
    best: BestRows[Any],
    folders: Sequence[FolderCounts],
    damaged: Sequence[tuple[str, str]],
) -> dict[str, Any]:
    """The content of report.json (see PRODUCT.md, "Files").

    ``campaign`` holds the merged plan's digests as hex: ``digest`` (the plan
    digest), ``pool_digest``, ``config_digest`` and ``campaign_seed``.
    """
    digest = bytes.fromhex(campaign["digest"])
    return {
        "digest": full_hex(digest),
        "digest_grouped": group_digest(digest),
        **{name: campaign[name] for name in ("pool_digest", "config_digest", "campaign_seed")},
        "expected": best.total,
        "ok": best.count("ok"),
        "failed": {status: best.count(status) for status in FAILED_STATUSES},
        "failed_ids": {status: best.ids(status) for status in FAILED_STATUSES},
        "missing": best.ids(None),
        "duplicates": best.duplicates,
        "conflicts": sorted(best.conflicts),
        "machines": [folder.as_json() for folder in folders],
        "damaged": [{"file": file, "problem": problem} for file, problem in damaged],
        "inputs": [folder.folder for folder in folders],
        # The survivors a later `run --rescue` plans over, first seen first.
        "machines_seen": list(dict.fromkeys(folder.machine for folder in folders)),
    }


def merge_summary(report: Mapping[str, Any], out: str, no_results: Sequence[str] = ()) -> str:
    """The console's summary of a merge, from its report."""
    names = ", ".join(machine["machine"] for machine in report["machines"])
    failed: Mapping[str, int] = report["failed"]
    missing: list[int] = report["missing"]
    folders = len(report["machines"])
    text = (
        f"merged {folders} folder{'s' if folders != 1 else ''} ({names}): "
        f"{report['expected']} expected, "
        f"{report['ok']} ok, {_failed_text(failed)}, {len(missing)} missing"
    )
    if missing:
        shown = ", ".join(map(str, missing[:_SHOWN_MISSING]))
        more = len(missing) - _SHOWN_MISSING
        text += f" ({shown}{f', ... {more} more' if more > 0 else ''})"
    if report["duplicates"]:
        text += f", {report['duplicates']} duplicate rows resolved"
    conflicts: list[int] = report.get("conflicts", [])
    if conflicts:
        shown = ", ".join(map(str, conflicts[:_SHOWN_MISSING]))
        more = len(conflicts) - _SHOWN_MISSING
        text += (
            f", {len(conflicts)} jobs with ok rows of different values (kept the later;"
            f" jobs {shown}{f', ... {more} more' if more > 0 else ''})"
        )
    gone = report.get("no_longer_in_pool", 0)
    if gone:
        text += f", {gone} rows of jobs no longer in the pool left out"
    if no_results:
        text += f"; no results.csv.zst in {', '.join(no_results)} (0 rows)"
    if report["damaged"]:
        text += f"; {len(report['damaged'])} damaged inputs (see the warnings)"
    return f"{text}; written to {out}"


def _failed_text(failed: Mapping[str, int]) -> str:
    total = sum(failed.values())
    parts = ", ".join(f"{count} {status}" for status, count in failed.items() if count)
    return f"{total} failed ({parts})" if total else "0 failed"
