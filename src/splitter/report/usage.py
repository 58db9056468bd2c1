"""Each machine's run time, utilisation and capacity: from its runs, else from its rows.

    HostRecord runs (all folders of a machine) --run_totals--> run time, busy, worker-seconds
        --> utilisation = busy / (run time x workers)
    else the merged rows --> time with a job running, jobs at once --> the same figures, estimated

Run time is each run's wall time as the runner measured it (the figure of a
run's last console line), added up over the machine's runs that ran jobs: the
time between a run and its resume is not in it. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from splitter.report.hosts import HostRecord
from splitter.report.read import Columns
from splitter.report.schema import MergeReport
from splitter.report.stats import LANE_TOLERANCE, HostStats, active_seconds
from splitter.store.runhistory import run_totals

__all__ = ["Capacity", "Usage", "capacity_rows", "machine_usage", "most_at_once"]

MANIFESTS, ROWS = "manifest.json", "rows"


@dataclass(frozen=True)
class Usage:
    """How long a machine ran and how busy its workers were."""

    machine: str
    run_seconds: float
    busy_seconds: float
    workers: float  # worker-seconds over run time: its workers, averaged over its runs
    jobs: int
    source: str  # MANIFESTS (its runs) or ROWS (estimated from the merged rows)

    @property
    def utilisation(self) -> float | None:
        """Busy seconds over (run time x workers); None for no run time."""
        capacity = self.run_seconds * self.workers
        return self.busy_seconds / capacity if capacity > 0 else None

    @property
    def jobs_per_second(self) -> float | None:
        """Jobs over run time; None for no run time."""
        return self.jobs / self.run_seconds if self.run_seconds > 0 else None


@dataclass(frozen=True)
class Capacity:
    """A machine's declared capacity (perf x cores) and its observed jobs per second."""

    machine: str
    declared: float | None
    observed: float | None
    source: str  # where the figures came from: report.json, manifest.json or rows


def machine_usage(
    cols: Columns, hosts: Sequence[HostStats], records: Mapping[str, HostRecord]
) -> list[Usage]:
    """Per host of `hosts`: from its folders' runs when any is at hand, else from its rows."""
    found = []
    for host in hosts:
        runs = [run for r in records.values() if r.machine == host.machine for run in r.runs]
        totals = run_totals(runs)
        if totals.wall_seconds > 0:
            workers = totals.worker_seconds / totals.wall_seconds
            found.append(Usage(host.machine, totals.wall_seconds, totals.busy_seconds, workers,
                               totals.jobs_done, MANIFESTS))  # fmt: skip
            continue
        mine = cols.machine == host.code
        start, end = cols.start[mine], cols.end[mine]
        found.append(Usage(host.machine, active_seconds(start, end), host.busy_seconds,
                           float(most_at_once(start, end)), host.rows, ROWS))  # fmt: skip
    return found


def most_at_once(start: npt.NDArray[np.float64], end: npt.NDArray[np.float64]) -> int:
    """The most jobs that ran at once (a job starting within the tolerance of an end follows)."""
    if len(start) == 0:
        return 0
    times = np.concatenate((start, end - LANE_TOLERANCE))
    steps = np.concatenate((np.ones(len(start)), -np.ones(len(end))))
    order = np.lexsort((steps, times))  # at one time, ends before starts
    return int(np.cumsum(steps[order]).max())


def capacity_rows(
    report: MergeReport, records: Mapping[str, HostRecord], usage: Sequence[Usage]
) -> list[Capacity]:
    """Declared vs observed per machine, from report.json's `capacity`, else the manifests.

    Without either, the observed figure comes from the merged rows (jobs per
    second of run time) and the declared one is unknown (None).
    """
    found = []
    for machine in usage:
        entry = (report.capacity or {}).get(machine.machine)
        declared = [
            r.perf * r.cores
            for r in records.values()
            if r.machine == machine.machine and r.perf is not None and r.cores is not None
        ]
        if entry is not None:
            found.append(Capacity(machine.machine, entry.declared, entry.observed, "report.json"))
        elif machine.source == MANIFESTS or declared:
            observed = machine.jobs_per_second if machine.source == MANIFESTS else None
            found.append(
                Capacity(machine.machine, declared[0] if declared else None, observed, MANIFESTS)
            )
        else:
            found.append(Capacity(machine.machine, None, machine.jobs_per_second, ROWS))
    return found
