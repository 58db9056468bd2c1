"""Observed capacity: the report's fields, the console lines, the suggested weights."""

from __future__ import annotations

import json

from splitter.merge.capacity import (
    capacity_lines,
    capacity_report,
    machines_text,
    suggested_machines,
)
from splitter.store.hostfolder import HostRun


def run(perf: float | None, cores: int | None, jobs: int, wall: float) -> HostRun:
    return HostRun(perf, cores, busy_seconds=wall, jobs_done=jobs, wall_seconds=wall,
                   rate=None, updated=None)  # fmt: skip


# Declared equal; beta really did half alpha's rate, so it finished late.
RUNS = [("alpha", run(1.0, 2, 40, 10.0)), ("beta", run(1.0, 2, 40, 20.0))]


def test_the_report_has_declared_observed_wall_and_lateness_per_machine() -> None:
    assert capacity_report(RUNS)["capacity"] == {
        "alpha": {"declared": 2.0, "observed_jobs_per_s": 4.0, "wall_seconds": 10.0,
                  "late_seconds": 0.0},
        "beta": {"declared": 2.0, "observed_jobs_per_s": 2.0, "wall_seconds": 20.0,
                 "late_seconds": 10.0},
    }  # fmt: skip


def test_the_observed_makespan_splits_all_jobs_by_the_observed_rates() -> None:
    report = capacity_report(RUNS)
    assert (report["makespan_seconds"], report["makespan_observed_seconds"]) == (20.0, 13.333)


def test_the_suggestion_gives_each_machine_its_rate_per_core() -> None:
    assert suggested_machines(RUNS) == {"alpha": [2.0, 2], "beta": [1.0, 2]}


def test_a_whole_pool_run_has_no_declared_capacity_and_no_suggestion() -> None:
    runs = [("all", run(None, None, 30, 3.0))]
    assert capacity_report(runs)["capacity"]["all"]["declared"] is None
    assert suggested_machines(runs) == {}


def test_a_machines_second_folder_adds_to_its_jobs_and_wall() -> None:
    runs = [("alpha", run(1.0, 1, 10, 5.0)), ("alpha", run(1.0, 1, 20, 5.0))]
    assert capacity_report(runs)["capacity"]["alpha"]["observed_jobs_per_s"] == 3.0


def test_no_runs_give_no_capacity_fields() -> None:
    assert capacity_report([]) == {}
    assert capacity_lines({}, None) == []


def test_the_suggested_file_is_machines_json_one_entry_a_line() -> None:
    text = machines_text({"alpha": [2.0, 2], "beta": [1.0, 2]})
    assert text == '{\n  "alpha": [2.0, 2],\n  "beta": [1.0, 2]\n}\n'
    assert json.loads(text) == {"alpha": [2.0, 2], "beta": [1.0, 2]}


def test_the_console_lines_name_every_machine_and_both_makespans() -> None:
    assert capacity_lines(capacity_report(RUNS), "M/suggested-machines.json") == [
        "capacity (the runs of each host, added up):",
        "  alpha: declared perf x cores 2, observed 4 jobs/s, wall 10.0s, 0.0s after the earliest",
        "  beta: declared perf x cores 2, observed 2 jobs/s, wall 20.0s, 10.0s after the earliest",
        "makespan 20.0s, 13.3s with the observed rates; weights that fit them:"
        " M/suggested-machines.json",
    ]
