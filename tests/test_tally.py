"""A share's counts: earlier recorded outcomes plus this run's, and the exit code."""

from __future__ import annotations

from pathlib import Path

from splitter.run.tally import Tally


def test_recorded_outcomes_count_unless_the_job_runs_again() -> None:
    outcomes = {0: "ok", 1: "error", 2: "crashed", 3: "ok"}
    tally = Tally.from_outcomes(outcomes, share=[0, 1, 2, 3, 4], todo=[1, 4])
    assert (tally.skipped, tally.ok, tally.failed, tally.remaining) == (
        3, 2, {"error": 0, "crashed": 1, "timeout": 0}, 2,
    )  # fmt: skip


def test_this_runs_rows_add_to_the_counts() -> None:
    tally = Tally.from_outcomes({}, share=list(range(10)), todo=list(range(10)))
    tally.record(6, ["timeout", "error"])
    assert tally.counts() == {"ok": 4, "error": 1, "crashed": 0, "timeout": 1, "remaining": 4}


def test_the_exit_code_says_interrupted_then_failed_then_ok() -> None:
    tally = Tally.from_outcomes({}, share=[0, 1], todo=[0, 1])
    tally.record(2, [])
    assert tally.summary("alpha", Path("out"), False, 1.0).exit_code == 0
    assert tally.summary("alpha", Path("out"), True, 1.0).exit_code == 130
    tally.record(1, ["crashed"])
    assert tally.summary("alpha", Path("out"), False, 1.0).exit_code == 1


def test_the_summary_line_names_every_count() -> None:
    tally = Tally.from_outcomes({0: "ok"}, share=[0, 1, 2], todo=[1, 2])
    tally.record(1, ["error"])
    line = tally.summary("alpha", Path("out/alpha"), True, 65).line()
    assert line == (
        "alpha: 1/3 ok, 1 error, 1 remaining; ran 1 jobs in 1m05s, skipped 1 recorded "
        "earlier; results in out/alpha (interrupted: run again to resume)"
    )


def test_finished_jobs_count_only_once_their_rows_are_written() -> None:
    tally = Tally.from_statuses([None] * 10, retry_failed=False)
    tally.add(6, ["timeout", "error"], busy=3.0)
    assert (tally.ok, tally.ran, tally.busy, tally.remaining) == (0, 0, 0.0, 10)
    tally.written()
    assert tally.counts() == {"ok": 4, "error": 1, "crashed": 0, "timeout": 1, "remaining": 4}
    assert (tally.ran, tally.busy) == (6, 3.0)
    tally.written()
    assert tally.ran == 6


def test_failures_count_for_max_failures_as_soon_as_they_arrive() -> None:
    tally = Tally.from_statuses([None] * 4, retry_failed=False)
    tally.add(3, ["error", "crashed"])
    assert (tally.failed_now, tally.failed["error"]) == (2, 0)
