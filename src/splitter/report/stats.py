"""The report's figures from the merged rows: per-host counts, worker lanes, bins, the slowest.

Pure: `Columns` in, numbers and small dataclasses out; nothing is read,
drawn or printed here.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from splitter.report.read import Columns
from splitter.store.results import STATUSES

__all__ = [
    "GANTT_MAX_ROWS",
    "LANE_SLACK",
    "LANE_TOLERANCE",
    "HostStats",
    "SlowJob",
    "active_seconds",
    "duration_bins",
    "host_stats",
    "lanes",
    "slowest_jobs",
    "time_unit",
]

GANTT_MAX_ROWS = 2000  # above this the timeline draws finished-over-time lines, not bars
LANE_TOLERANCE = 1e-5  # seconds: ten times the rounding of a row's start_time and duration
LANE_SLACK = 1e-3  # of a job's duration: NTP slews a clock by at most 500 ppm
_LOG_SPAN = 100.0  # durations spanning this factor or more get a log axis


@dataclass(frozen=True)
class HostStats:
    """One machine's rows in the merged results."""

    machine: str
    code: int  # its index in `Columns.machines`
    rows: int
    ok: int
    failed: dict[str, int]
    first_start: float
    last_end: float
    busy_seconds: float
    median: float
    p90: float
    longest: float


@dataclass(frozen=True)
class SlowJob:
    """One of the slowest jobs."""

    job_id: int
    machine: str
    status: str
    duration: float
    start: float


def host_stats(cols: Columns, order: Sequence[str] = ()) -> list[HostStats]:
    """Per machine: those named in `order` first, in that order, then the others as met."""
    found = []
    end = cols.end
    rank = {name: place for place, name in enumerate(order)}
    names = sorted(cols.machines, key=lambda name: rank.get(name, len(rank)))
    for name in names:
        code = cols.machines.index(name)
        mine = cols.machine == code
        durations = cols.duration[mine]
        statuses = np.bincount(cols.status[mine], minlength=len(STATUSES))
        median, p90 = np.quantile(durations, [0.5, 0.9]).tolist()
        found.append(
            HostStats(
                machine=name, code=code, rows=int(mine.sum()), ok=int(statuses[0]),
                failed={s: int(n) for s, n in zip(STATUSES[1:], statuses[1:], strict=True)},
                first_start=float(cols.start[mine].min()), last_end=float(end[mine].max()),
                busy_seconds=float(durations.sum()), median=median, p90=p90,
                longest=float(durations.max()),
            )
        )  # fmt: skip
    return found


def lanes(start: npt.NDArray[np.float64], end: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """A worker lane per job: the lowest lane free at its start (jobs of one host).

    The results record no worker, so the lanes are rebuilt: as many as jobs
    ever ran at once, which is the host's worker count when it was kept busy.
    A job that starts within the tolerance before another's end follows it on
    its lane: start and duration are written to the microsecond, and their sum
    may pass the next job's start by that much (or, on a clock being slewed,
    by a thousandth of the job's length).
    """
    order = np.argsort(start, kind="stable")
    lane = np.zeros(len(start), dtype=np.int64)
    free: list[int] = []  # lanes free now, lowest first
    busy: list[tuple[float, int]] = []  # (end less the tolerance, lane) of running jobs
    used = 0
    ends = end - (LANE_TOLERANCE + LANE_SLACK * (end - start))
    for row in order.tolist():
        while busy and busy[0][0] <= start[row]:
            heapq.heappush(free, heapq.heappop(busy)[1])
        if free:
            lane[row] = heapq.heappop(free)
        else:
            lane[row], used = used, used + 1
        heapq.heappush(busy, (float(ends[row]), int(lane[row])))
    return lane


def duration_bins(durations: npt.NDArray[np.float64], count: int = 40) -> tuple[Any, bool]:
    """Histogram bin edges for the durations, and whether they are logarithmic.

    Log bins when the positive durations span `_LOG_SPAN` or more; zero
    durations then fall in the first bin.
    """
    positive = durations[durations > 0]
    if len(positive) == 0:
        return np.linspace(0.0, 1.0, count + 1), False
    low, high = float(positive.min()), float(positive.max())
    if high / low >= _LOG_SPAN:
        return np.geomspace(low, high, count + 1), True
    top = high if high > 0 else 1.0
    return np.linspace(0.0, top * 1.0001, count + 1), False


def slowest_jobs(cols: Columns, limit: int = 10) -> list[SlowJob]:
    """The `limit` longest rows, longest first (ties: the lower job id)."""
    if len(cols.duration) > limit:
        picked = np.argpartition(-cols.duration, limit - 1)[:limit]
    else:
        picked = np.arange(len(cols.duration))
    ranked = sorted(picked.tolist(), key=lambda r: (-cols.duration[r], cols.job_id[r]))
    return [
        SlowJob(
            int(cols.job_id[r]),
            cols.machines[cols.machine[r]],
            STATUSES[cols.status[r]],
            float(cols.duration[r]),
            float(cols.start[r]),
        )
        for r in ranked
    ]


def time_unit(span_seconds: float) -> tuple[float, str]:
    """A divisor and its name for a time axis of this span: seconds, minutes or hours."""
    if span_seconds >= 3 * 3600:
        return 3600.0, "h"
    if span_seconds >= 3 * 60:
        return 60.0, "min"
    return 1.0, "s"


def active_seconds(start: npt.NDArray[np.float64], end: npt.NDArray[np.float64]) -> float:
    """The time at least one of the jobs ran: their span without the gaps between them."""
    if len(start) == 0:
        return 0.0
    order = np.argsort(start, kind="stable")
    begins, reach = start[order], np.maximum.accumulate(end[order])
    opens = np.flatnonzero(np.r_[True, begins[1:] > reach[:-1]])  # where a busy stretch opens
    closes = np.r_[opens[1:] - 1, len(begins) - 1]
    return float((reach[closes] - begins[opens]).sum())
