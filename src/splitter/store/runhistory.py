"""A host folder's runs: the `runs` list of its manifest.json, kept across resumes.

    earlier manifest --carried_runs--> its runs ++ this_run(manifest) --> manifest["runs"]
    manifest["runs"] --read_runs--> RunRecord x N --run_totals--> jobs, busy, wall, worker-s

Every run of a folder (the first, and each resume) is one entry: its start and
its last manifest write (its end once it stopped) in Unix seconds, the jobs it
ran, their summed durations, its wall time as the runner measured it and its
workers. A manifest written before the history existed counts as one run, from
its top-level fields. Pure: dicts in, dicts and numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "RunRecord",
    "RunTotals",
    "carried_runs",
    "finite_number",
    "manifest_runs",
    "read_runs",
    "run_totals",
    "this_run",
]

_MAX_COUNT = 1 << 40  # jobs or workers beyond this are a hand-edited file, not a run
_ISO = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class RunRecord:
    """One run of a host folder."""

    started: float
    ended: float
    jobs_done: int
    busy_seconds: float
    wall_seconds: float
    workers: int

    def as_json(self) -> dict[str, object]:
        """The run's entry of manifest.json's `runs`."""
        return {
            "started": round(self.started, 3), "ended": round(self.ended, 3),
            "jobs_done": self.jobs_done, "busy_seconds": round(self.busy_seconds, 6),
            "wall_seconds": round(self.wall_seconds, 6), "workers": self.workers,
        }  # fmt: skip


@dataclass(frozen=True)
class RunTotals:
    """The runs that ran at least one job, added up (a rerun with nothing to do measures none)."""

    jobs_done: int
    busy_seconds: float
    wall_seconds: float
    worker_seconds: float
    """Each run's wall time times its workers: what the workers could have been busy for."""


def this_run(manifest: Mapping[str, object], started: float, ended: float) -> dict[str, object]:
    """The running run's entry, from the counts the runner just put into `manifest`."""
    return RunRecord(
        started, ended, int(finite_number(manifest, "jobs_done") or 0),
        finite_number(manifest, "busy_seconds") or 0.0,
        finite_number(manifest, "wall_seconds") or 0.0,
        int(finite_number(manifest, "workers") or 1),
    ).as_json()  # fmt: skip


def carried_runs(previous: Mapping[str, object]) -> list[dict[str, object]]:
    """The runs a resumed folder's earlier manifest records, to go before the new run's entry."""
    return [run.as_json() for run in manifest_runs(previous)]


def manifest_runs(manifest: Mapping[str, object]) -> tuple[RunRecord, ...]:
    """The manifest's runs: its `runs`, else (an older manifest) its top-level fields as one."""
    runs = read_runs(manifest)
    if runs is None:
        single = _single_run(manifest)
        runs = () if single is None else (single,)
    return runs


def read_runs(manifest: Mapping[str, object]) -> tuple[RunRecord, ...] | None:
    """The manifest's `runs`, checked; None when it has none or any entry is not a run."""
    listed = manifest.get("runs")
    if not isinstance(listed, list) or not listed:
        return None
    runs = [_record(entry) for entry in listed]
    if any(run is None for run in runs):
        return None
    return tuple(run for run in runs if run is not None)


def run_totals(runs: Iterable[RunRecord]) -> RunTotals:
    """The runs that ran jobs, added up: their spans without the idle time between them."""
    worked = [run for run in runs if run.jobs_done > 0]
    return RunTotals(
        sum(run.jobs_done for run in worked),
        sum(run.busy_seconds for run in worked),
        sum(run.wall_seconds for run in worked),
        sum(run.wall_seconds * run.workers for run in worked),
    )


def _record(entry: object) -> RunRecord | None:
    if not isinstance(entry, dict):
        return None
    started, ended = finite_number(entry, "started"), finite_number(entry, "ended")
    busy, wall = finite_number(entry, "busy_seconds"), finite_number(entry, "wall_seconds")
    jobs, workers = _count(entry, "jobs_done"), _count(entry, "workers")
    if started is None or ended is None or busy is None or wall is None:
        return None
    if jobs is None or workers is None or workers == 0 or ended < started:
        return None
    if busy < 0 or wall < 0:
        return None
    return RunRecord(started, ended, jobs, busy, wall, workers)


def _single_run(manifest: Mapping[str, object]) -> RunRecord | None:
    """A manifest from before the history: its top-level fields are its one run."""
    started = _unix(manifest.get("started"))
    wall = finite_number(manifest, "wall_seconds")
    if started is None or wall is None:
        return None
    entry = {
        "started": started, "ended": finite_number(manifest, "updated") or started + wall,
        "jobs_done": manifest.get("jobs_done"), "busy_seconds": manifest.get("busy_seconds"),
        "wall_seconds": wall, "workers": manifest.get("workers"),
    }  # fmt: skip
    return _record(entry)


def _unix(value: object) -> float | None:
    try:
        return datetime.strptime(str(value), _ISO).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def finite_number(data: Mapping[str, object], key: str) -> float | None:
    """A finite number under ``key``, else None (absent, not a number, NaN, too large)."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int of hundreds of digits
        return None
    return number if math.isfinite(number) else None


def _count(data: Mapping[str, object], key: str) -> int | None:
    value = data.get(key)
    return value if type(value) is int and 0 <= value <= _MAX_COUNT else None
