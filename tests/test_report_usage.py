"""Each machine's run time, utilisation and capacity: from its runs, else from its rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from splitter.report.hosts import HostRecord, host_record
from splitter.report.schema import MergeReport, parse_report
from splitter.report.stats import host_stats
from splitter.report.usage import Capacity, Usage, capacity_rows, machine_usage, most_at_once
from test_report_stats import COLS

RUN = {"jobs_done": 3, "busy_seconds": 6.0, "workers": 2}


def record(
    machine: str, folder: str, runs: list[dict[str, float]], **fields: object
) -> HostRecord:
    return host_record({"machine": machine, "runs": runs, **fields}, folder)


def report(**fields: object) -> MergeReport:
    return parse_report(fields, Path("M/report.json"))


def test_utilisation_adds_up_every_run_of_every_folder_of_a_machine() -> None:
    records = {
        "out/alpha": record("alpha", "out/alpha", [
            {**RUN, "started": 0.0, "ended": 4.0, "wall_seconds": 4.0},
            {**RUN, "started": 3600.0, "ended": 3602.0, "wall_seconds": 2.0, "workers": 1},
        ]),
        "out/alpha.rescue-1": record("alpha", "out/alpha.rescue-1", [
            {**RUN, "started": 7200.0, "ended": 7203.0, "wall_seconds": 3.0},
        ], rescue="merged/report.json"),
    }  # fmt: skip
    alpha = machine_usage(COLS, host_stats(COLS), records)[0]
    # 9 s of runs, not the 2 hours between their starts; 2 + 1 + 2 workers over them.
    assert alpha == Usage("alpha", 9.0, 18.0, 16.0 / 9.0, 9, "manifest.json")
    assert alpha.utilisation == pytest.approx(18.0 / 16.0)


def test_without_manifests_utilisation_comes_from_the_rows() -> None:
    alpha, beta = machine_usage(COLS, host_stats(COLS), {})
    # alpha ran [10, 14], [12, 13], [14, 20]: 10 s with a job running, 2 at once at most.
    assert alpha == Usage("alpha", 10.0, 11.0, 2.0, 3, "rows")
    assert alpha.utilisation == 11.0 / 20.0
    assert (beta.run_seconds, beta.workers, beta.jobs_per_second) == (3.0, 1.0, 2 / 3)


def test_jobs_that_follow_each_other_within_the_tolerance_do_not_count_twice() -> None:
    start = np.array([0.0, 0.0, 1.000001, 2.0])
    end = np.array([1.000002, 2.0, 3.0, 3.0])
    assert most_at_once(start, end) == 2


def test_capacity_comes_from_report_json_first() -> None:
    merged = report(capacity={"alpha": {"declared": 8.0, "observed_jobs_per_s": 2.5}})
    records = {"b": record("beta", "b", [{**RUN, "started": 0.0, "ended": 4.0,
                                          "wall_seconds": 4.0}], perf=1.5, cores=4)}  # fmt: skip
    usage = machine_usage(COLS, host_stats(COLS), records)
    assert capacity_rows(merged, records, usage) == [
        Capacity("alpha", 8.0, 2.5, "report.json"),
        Capacity("beta", 6.0, 0.75, "manifest.json"),
    ]


def test_capacity_without_declared_figures_is_observed_from_the_rows() -> None:
    usage = machine_usage(COLS, host_stats(COLS), {})
    assert capacity_rows(report(), {}, usage) == [
        Capacity("alpha", None, 0.3, "rows"), Capacity("beta", None, 2 / 3, "rows")
    ]  # fmt: skip


def test_a_manifest_run_with_all_has_no_declared_capacity() -> None:
    records = {"a": record("alpha", "a", [{**RUN, "started": 0.0, "ended": 1.5,
                                           "wall_seconds": 1.5}], cores=2)}  # fmt: skip
    usage = machine_usage(COLS, host_stats(COLS), records)
    assert capacity_rows(report(), records, usage)[0] == Capacity(
        "alpha", None, 2.0, "manifest.json"
    )
