"""The report's figures as data: lanes, bins, tables and capacity, with exact values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from splitter.report.read import Columns, Failures
from splitter.report.stats import (
    Capacity,
    FailureLine,
    SlowJob,
    capacity_rows,
    duration_bins,
    failure_lines,
    host_stats,
    lanes,
    slowest_jobs,
    time_unit,
)


def columns(rows: list[tuple[int, int, int, float, float]], machines=("alpha", "beta")) -> Columns:
    job, machine, status, start, duration = zip(*rows, strict=True)
    return Columns(
        tuple(machines), np.array(job, dtype=np.int64), np.array(machine, dtype=np.int32),
        np.array(status, dtype=np.uint8), np.array(start, dtype=np.float64),
        np.array(duration, dtype=np.float64),
    )  # fmt: skip


COLS = columns(
    [(0, 0, 0, 10.0, 4.0), (1, 1, 1, 11.0, 1.0), (2, 0, 0, 12.0, 1.0), (3, 0, 2, 14.0, 6.0),
     (4, 1, 0, 12.0, 2.0)]
)  # fmt: skip


def test_lanes_reuse_the_lowest_free_lane() -> None:
    start = np.array([0.0, 1.0, 2.0, 4.0, 4.0, 5.0])
    end = np.array([4.0, 3.0, 6.0, 5.0, 7.0, 6.0])
    assert lanes(start, end).tolist() == [0, 1, 2, 0, 1, 0]


@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0, 10)), min_size=1, max_size=60))
def test_jobs_on_one_lane_never_overlap(jobs: list[tuple[float, float]]) -> None:
    start = np.array([s for s, _ in jobs])
    end = start + np.array([d for _, d in jobs])
    lane = lanes(start, end)
    for number in range(int(lane.max()) + 1):
        mine = np.flatnonzero(lane == number)
        order = mine[np.argsort(start[mine], kind="stable")]
        assert (start[order][1:] >= end[order][:-1]).all()


def test_host_stats_follow_the_merge_order() -> None:
    hosts = host_stats(COLS, ["beta", "alpha"])
    assert [(h.machine, h.code, h.rows, h.ok) for h in hosts] == [
        ("beta", 1, 2, 1), ("alpha", 0, 3, 2)
    ]  # fmt: skip
    beta, alpha = hosts
    assert beta.failed == {"error": 1, "crashed": 0, "timeout": 0}
    assert alpha.failed == {"error": 0, "crashed": 1, "timeout": 0}
    assert (alpha.first_start, alpha.last_end, alpha.busy_seconds) == (10.0, 20.0, 11.0)
    assert (alpha.median, alpha.longest, alpha.span_seconds) == (4.0, 6.0, 10.0)
    assert alpha.jobs_per_second == 0.3


def test_durations_spanning_two_decades_get_log_bins() -> None:
    edges, log = duration_bins(np.array([0.0, 0.01, 0.5, 1.0]), count=2)
    assert log is True
    assert edges.tolist() == pytest.approx([0.01, 0.1, 1.0])


def test_durations_within_two_decades_get_linear_bins() -> None:
    edges, log = duration_bins(np.array([0.5, 1.0, 2.0]), count=4)
    assert log is False
    assert edges.tolist() == pytest.approx([0.0, 0.50005, 1.0001, 1.50015, 2.0002])


def test_failure_lines_rank_by_count_then_first_id() -> None:
    failures = Failures()
    for job, message, status in [(1, "b", "error"), (2, "a", "crashed"), (5, "a", "error"),
                                 (7, "", "timeout"), (9, "c", "error")]:  # fmt: skip
        failures.add(message, status, job)
    assert failure_lines(failures, limit=3) == [
        FailureLine("a", 2, ("crashed", "error"), (2, 5)),
        FailureLine("b", 1, ("error",), (1,)),
        FailureLine("(no message)", 1, ("timeout",), (7,)),
    ]


def test_slowest_jobs_longest_first() -> None:
    assert slowest_jobs(COLS, limit=2) == [
        SlowJob(3, "alpha", "crashed", 6.0, 14.0), SlowJob(0, "alpha", "ok", 4.0, 10.0)
    ]  # fmt: skip


def test_capacity_comes_from_report_json_first() -> None:
    report = {"capacity": {"alpha": {"declared": 8.0, "observed_jobs_per_s": 2.5}}}
    manifests = {"beta": {"perf": 1.5, "cores": 4, "jobs_done": 10, "wall_seconds": 4.0}}
    assert capacity_rows(report, manifests, host_stats(COLS)) == [
        Capacity("alpha", 8.0, 2.5, "report.json"),
        Capacity("beta", 6.0, 2.5, "manifest.json"),
    ]


def test_capacity_without_declared_figures_is_observed_from_the_rows() -> None:
    assert capacity_rows({}, {}, host_stats(COLS)) == [
        Capacity("alpha", None, 0.3, "rows"), Capacity("beta", None, 2 / 3, "rows")
    ]  # fmt: skip


def test_a_manifest_run_with_all_has_no_declared_capacity() -> None:
    manifests = {"alpha": {"cores": 2, "jobs_done": 3, "wall_seconds": 1.5}}
    assert capacity_rows({}, manifests, host_stats(COLS))[0] == Capacity(
        "alpha", None, 2.0, "manifest.json"
    )


@pytest.mark.parametrize(
    ("span", "unit"), [(10.0, (1.0, "s")), (600.0, (60.0, "min")), (20000.0, (3600.0, "h"))]
)
def test_time_unit_fits_the_span(span: float, unit: tuple[float, str]) -> None:
    assert time_unit(span) == unit
