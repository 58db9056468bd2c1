"""The report's figures from the rows as data: lanes, bins, tables, with exact values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from splitter.report.read import Columns
from splitter.report.stats import (
    SlowJob,
    active_seconds,
    duration_bins,
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


def test_two_workers_draw_two_lanes_despite_microsecond_rounding() -> None:
    # Each job starts where the one before it on its worker ended, as written to the
    # microsecond: start + duration passes the next start by up to 2 microseconds.
    start = np.array([1e9 + 0.000001, 1e9, 1e9 + 0.300001, 1e9 + 0.2, 1e9 + 0.6, 1e9 + 0.4])
    duration = np.array([0.300002, 0.200001, 0.300001, 0.200002, 0.1, 0.2])
    assert lanes(start, start + duration).tolist() == [1, 0, 1, 0, 0, 0]


def test_a_long_job_followed_within_a_thousandth_of_its_length_keeps_its_lane() -> None:
    start = np.array([0.0, 0.0, 100.05, 50.0])  # the clock was slewed by 500 ppm
    end = np.array([100.1, 50.0, 101.0, 101.0])
    assert lanes(start, end).tolist() == [0, 1, 0, 1]


def test_active_seconds_leave_out_the_gaps_between_runs() -> None:
    start = np.array([0.0, 1.0, 100.0, 101.0, 2.0])
    end = np.array([3.0, 2.5, 101.5, 102.0, 4.0])
    assert active_seconds(start, end) == 4.0 + 2.0


@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0, 10)), min_size=1, max_size=60))
def test_jobs_on_one_lane_never_overlap(jobs: list[tuple[float, float]]) -> None:
    start = np.array([s for s, _ in jobs])
    end = start + np.array([d for _, d in jobs])
    lane = lanes(start, end)
    for number in range(int(lane.max()) + 1):
        mine = np.flatnonzero(lane == number)
        order = mine[np.argsort(start[mine], kind="stable")]
        assert (start[order][1:] >= end[order][:-1] * (1 - 1e-3) - 1e-5).all()


def test_host_stats_follow_the_merge_order() -> None:
    hosts = host_stats(COLS, ["beta", "alpha"])
    assert [(h.machine, h.code, h.rows, h.ok) for h in hosts] == [
        ("beta", 1, 2, 1), ("alpha", 0, 3, 2)
    ]  # fmt: skip
    beta, alpha = hosts
    assert beta.failed == {"error": 1, "crashed": 0, "timeout": 0}
    assert alpha.failed == {"error": 0, "crashed": 1, "timeout": 0}
    assert (alpha.first_start, alpha.last_end, alpha.busy_seconds) == (10.0, 20.0, 11.0)
    assert (alpha.median, alpha.longest) == (4.0, 6.0)


def test_durations_spanning_two_decades_get_log_bins() -> None:
    edges, log = duration_bins(np.array([0.0, 0.01, 0.5, 1.0]), count=2)
    assert log is True
    assert edges.tolist() == pytest.approx([0.01, 0.1, 1.0])


def test_durations_within_two_decades_get_linear_bins() -> None:
    edges, log = duration_bins(np.array([0.5, 1.0, 2.0]), count=4)
    assert log is False
    assert edges.tolist() == pytest.approx([0.0, 0.50005, 1.0001, 1.50015, 2.0002])


def test_slowest_jobs_longest_first() -> None:
    assert slowest_jobs(COLS, limit=2) == [
        SlowJob(3, "alpha", "crashed", 6.0, 14.0), SlowJob(0, "alpha", "ok", 4.0, 10.0)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("span", "unit"), [(10.0, (1.0, "s")), (600.0, (60.0, "min")), (20000.0, (3600.0, "h"))]
)
def test_time_unit_fits_the_span(span: float, unit: tuple[float, str]) -> None:
    assert time_unit(span) == unit
