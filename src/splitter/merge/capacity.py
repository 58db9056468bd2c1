"""Observed capacity: what each host declared, what it did, and the weights that would have fit.

Pure: it takes each folder's machine and `HostRun` (from its manifest) and
returns report.json's capacity fields, the console's lines and the content
of suggested-machines.json.

    HostRun x N --by machine--> declared perf x cores, observed jobs/s, wall, lateness
                 --sum of jobs / sum of rates--> the makespan the observed rates would give
                 --rate / cores--> suggested [perf, cores] per machine
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from splitter.store.hostfolder import HostRun

__all__ = [
    "SUGGESTED_NAME",
    "capacity_lines",
    "capacity_report",
    "machines_text",
    "suggested_machines",
]

SUGGESTED_NAME = "suggested-machines.json"
_DIGITS = 4  # significant digits of a suggested perf: finer is noise


@dataclass(frozen=True)
class _Machine:
    """One machine's runs added up (a rescue folder of a machine adds to its first)."""

    perf: float | None
    cores: int | None
    jobs: int
    wall: float


def _by_machine(runs: Iterable[tuple[str, HostRun]]) -> dict[str, _Machine]:
    machines: dict[str, _Machine] = {}
    for name, run in runs:
        seen = machines.get(name)
        if seen is None:
            machines[name] = _Machine(run.perf, run.cores, run.jobs_done, run.wall_seconds)
        else:
            machines[name] = _Machine(
                seen.perf, seen.cores, seen.jobs + run.jobs_done, seen.wall + run.wall_seconds
            )
    return machines


def capacity_report(runs: Iterable[tuple[str, HostRun]]) -> dict[str, Any]:
    """report.json's ``capacity``, ``makespan_seconds`` and ``makespan_observed_seconds``.

    A machine's observed rate is the jobs its runs recorded over their wall
    time; lateness is its wall time beyond the shortest. The observed
    makespan is all those jobs over the summed rates: the wall time had every
    host's share been in proportion to what it really did.
    """
    machines = _by_machine(runs)
    if not machines:
        return {}
    shortest = min(machine.wall for machine in machines.values())
    capacity = {
        name: {
            "declared": None if m.perf is None or m.cores is None else m.perf * m.cores,
            "observed_jobs_per_s": round(m.jobs / m.wall, 6) if m.wall > 0 else None,
            "wall_seconds": round(m.wall, 3),
            "late_seconds": round(m.wall - shortest, 3),
        }
        for name, m in machines.items()
    }
    jobs = sum(machine.jobs for machine in machines.values())
    rates = sum(m.jobs / m.wall for m in machines.values() if m.wall > 0)
    return {
        "capacity": capacity,
        "makespan_seconds": round(max(machine.wall for machine in machines.values()), 3),
        "makespan_observed_seconds": round(jobs / rates, 3) if rates > 0 else None,
    }


def suggested_machines(
    runs: Iterable[tuple[str, HostRun]],
) -> dict[str, list[float | int]]:
    """machines.json entries from the observed rates: perf = jobs/s / cores, cores as declared.

    Only machines that declared cores and did some work are in it: a `--all`
    run has no entry to correct.
    """
    suggested: dict[str, list[float | int]] = {}
    for name, machine in _by_machine(runs).items():
        if machine.cores is None or machine.jobs == 0 or machine.wall <= 0:
            continue
        perf = machine.jobs / machine.wall / machine.cores
        suggested[name] = [float(f"{perf:.{_DIGITS}g}"), machine.cores]
    return suggested


def machines_text(machines: Mapping[str, list[float | int]]) -> str:
    """machines.json's layout: one machine per line, in the order given."""
    entries = [f"  {json.dumps(name)}: {json.dumps(value)}" for name, value in machines.items()]
    return "{\n" + ",\n".join(entries) + "\n}\n"


def capacity_lines(report: Mapping[str, Any], suggested_path: str | None) -> list[str]:
    """The console's lines on capacity: one per machine, then the makespans."""
    capacity: Mapping[str, Mapping[str, Any]] = report.get("capacity", {})
    if not capacity:
        return []
    lines = []
    for name, entry in capacity.items():
        declared = "?" if entry["declared"] is None else f"{entry['declared']:g}"
        rate = entry["observed_jobs_per_s"]
        observed = "no rate" if rate is None else f"{rate:.3g} jobs/s"
        lines.append(
            f"  {name}: declared perf x cores {declared}, observed {observed}, "
            f"wall {entry['wall_seconds']:.1f}s, {entry['late_seconds']:.1f}s after the earliest"
        )
    text = f"makespan {report['makespan_seconds']:.1f}s"
    if report["makespan_observed_seconds"] is not None:
        text += f", {report['makespan_observed_seconds']:.1f}s with the observed rates"
    if suggested_path is not None:
        text += f"; weights that fit them: {suggested_path}"
    return ["capacity (the runs of each host, added up):", *lines, text]
