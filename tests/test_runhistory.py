"""A host folder's history of runs in its manifest: carried over on resume, added up."""

from __future__ import annotations

from splitter.store.runhistory import (
    RunRecord,
    RunTotals,
    carried_runs,
    manifest_runs,
    read_runs,
    run_totals,
    this_run,
)

RUN = {"started": 100.0, "ended": 110.0, "jobs_done": 40, "busy_seconds": 35.5,
       "wall_seconds": 10.0, "workers": 4}  # fmt: skip


def test_this_run_takes_the_counts_the_runner_wrote() -> None:
    manifest = {"jobs_done": 7, "busy_seconds": 3.1234567, "wall_seconds": 2.4, "workers": 2}
    assert this_run(manifest, 1000.12345, 1002.5) == {
        "started": 1000.123, "ended": 1002.5, "jobs_done": 7, "busy_seconds": 3.123457,
        "wall_seconds": 2.4, "workers": 2,
    }  # fmt: skip


def test_a_resume_carries_the_earlier_runs_over() -> None:
    second = {**RUN, "started": 200.0, "ended": 201.0, "jobs_done": 0, "wall_seconds": 0.4}
    assert carried_runs({"runs": [RUN, second], "jobs_done": 0}) == [RUN, second]


def test_a_manifest_from_before_the_history_is_one_run() -> None:
    older = {"started": "2024-05-01T12:00:00Z", "updated": 1714564810.5, "jobs_done": 40,
             "busy_seconds": 35.5, "wall_seconds": 10.0, "workers": 4}  # fmt: skip
    assert carried_runs(older) == [{**RUN, "started": 1714564800.0, "ended": 1714564810.5}]


def test_a_manifest_without_counts_carries_nothing() -> None:
    assert carried_runs({"machine": "alpha", "started": "2024-05-01T12:00:00Z"}) == []


def test_runs_with_an_entry_that_is_not_a_run_are_not_read() -> None:
    bad_entries = [
        {**RUN, "workers": 0}, {**RUN, "ended": 99.0}, {**RUN, "jobs_done": -1},
        {**RUN, "busy_seconds": float("nan")}, {**RUN, "wall_seconds": True}, [1],
    ]  # fmt: skip
    for bad in bad_entries:
        assert read_runs({"runs": [RUN, bad]}) is None
    assert manifest_runs({"runs": "x"}) == ()


def test_the_totals_leave_out_runs_that_ran_nothing() -> None:
    # A rerun of a finished folder: no job to run, 0.3 s of start-up.
    noop = RunRecord(300.0, 300.3, 0, 0.0, 0.3, 4)
    first = RunRecord(100.0, 110.0, 40, 35.5, 10.0, 4)
    resumed = RunRecord(200.0, 205.0, 10, 9.0, 5.0, 2)
    assert run_totals([first, resumed, noop]) == RunTotals(50, 44.5, 15.0, 50.0)
