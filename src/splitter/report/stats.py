"""The report's figures as plain data: per-host counts, worker lanes, bins, tables.

Pure: `Columns` (and report.json / manifest dicts) in, numbers and small
dataclasses out; nothing is read, drawn or printed here.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from splitter.report.read import Columns, Failures
from splitter.store.results import STATUSES

__all__ = [
    "GANTT_MAX_ROWS",
    "Capacity",
    "FailureLine",
    "HostStats",
    "SlowJob",
    "capacity_rows",
    "duration_bins",
    "failure_lines",
    "host_stats",
    "lanes",
    "slowest_jobs",
    "time_unit",
]

GANTT_MAX_ROWS = 2000  # above this the timeline draws finished-over-time lines, not bars
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

    @property
    def span_seconds(self) -> float:
        """From its first start to its last end."""
        return self.last_end - self.first_start

    @property
    def jobs_per_second(self) -> float | None:
        """Rows finished per second of its span (None for a span of zero)."""
        return self.rows / self.span_seconds if self.span_seconds > 0 else None


@dataclass(frozen=True)
class Capacity:
    """A machine's declared capacity (perf x cores) and its observed jobs per second."""

    machine: str
    declared: float | None
    observed: float | None
    source: str  # where the figures came from: report.json, manifest.json or rows


@dataclass(frozen=True)
class FailureLine:
    """One error message of the failures table."""

    message: str
    count: int
    statuses: tuple[str, ...]
    first_ids: tuple[int, ...]


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
    """
    order = np.argsort(start, kind="stable")
    lane = np.zeros(len(start), dtype=np.int64)
    free: list[int] = []  # lanes free now, lowest first
    busy: list[tuple[float, int]] = []  # (end, lane) of running jobs
    used = 0
    for row in order.tolist():
        while busy and busy[0][0] <= start[row]:
            heapq.heappush(free, heapq.heappop(busy)[1])
        if free:
            lane[row] = heapq.heappop(free)
        else:
            lane[row], used = used, used + 1
        heapq.heappush(busy, (float(end[row]), int(lane[row])))
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


def failure_lines(failures: Failures, limit: int = 10) -> list[FailureLine]:
    """The most common error messages, most frequent first (ties: the lowest first id)."""
    ranked = sorted(failures.counts, key=lambda m: (-failures.counts[m], failures.first_ids[m]))
    return [
        FailureLine(
            message or "(no message)",
            failures.counts[message],
            tuple(sorted(failures.statuses[message])),
            tuple(failures.first_ids[message]),
        )
        for message in ranked[:limit]
    ]


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


def capacity_rows(
    report: Mapping[str, Any],
    manifests: Mapping[str, Mapping[str, Any]],
    hosts: Sequence[HostStats],
) -> list[Capacity]:
    """Declared vs observed per machine, from report.json's `capacity`, else the manifests.

    Without either, the observed figure comes from the merged rows (rows per
    second of the machine's span) and the declared one is unknown (None).
    """
    table = report.get("capacity")
    found = []
    for host in hosts:
        entry = table.get(host.machine) if isinstance(table, Mapping) else None
        manifest = manifests.get(host.machine, {})
        if isinstance(entry, Mapping):
            declared, observed = (
                _number(entry.get("declared")),
                _number(entry.get("observed_jobs_per_s")),
            )
            found.append(Capacity(host.machine, declared, observed, "report.json"))
        elif "jobs_done" in manifest or "perf" in manifest:
            perf, cores = _number(manifest.get("perf")), _number(manifest.get("cores"))
            done, wall = _number(manifest.get("jobs_done")), _number(manifest.get("wall_seconds"))
            declared = perf * cores if perf is not None and cores is not None else None
            observed = done / wall if done is not None and wall else None
            found.append(Capacity(host.machine, declared, observed, "manifest.json"))
        else:
            found.append(Capacity(host.machine, None, host.jobs_per_second, "rows"))
    return found


def time_unit(span_seconds: float) -> tuple[float, str]:
    """A divisor and its name for a time axis of this span: seconds, minutes or hours."""
    if span_seconds >= 3 * 3600:
        return 3600.0, "h"
    if span_seconds >= 3 * 60:
        return 60.0, "min"
    return 1.0, "s"


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
