"""A share's counts: earlier recorded outcomes plus this run's, and the exit code."""

from __future__ import annotations

from pathlib import Path

from splitter.run.tally import Tally

STATUSES: list[str | None] = ["ok", "error", "crashed", "ok", None]


def test_recorded_outcomes_count_unless_the_job_runs_again() -> None:
    tally = Tally.from_statuses(STATUSES, retry_failed=False)
    assert (tally.share, tally.skipped, tally.ok, tally.failed, tally.remaining) == (
        5, 4, 2, {"error": 1, "crashed": 1, "timeout": 0}, 1,
    )  # fmt: skip


def test_recorded_failures_run_again_with_retry_failed_and_count_once_recorded() -> None:
    tally = Tally.from_statuses(STATUSES, retry_failed=True)
    assert (tally.share, tally.skipped, tally.ok, tally.failed, tally.remaining) == (
        5, 2, 2, {"error": 0, "crashed": 0, "timeout": 0}, 3,
    )  # fmt: skip


def test_this_runs_rows_add_to_the_counts() -> None:
    tally = Tally.from_statuses([None] * 10, retry_failed=False)
    tally.record(6, ["timeout", "error"])
    assert tally.counts() == {"ok": 4, "error": 1, "crashed": 0, "timeout": 1, "remaining": 4}


def test_the_exit_code_says_interrupted_then_failed_then_ok() -> None:
    tally = Tally.from_statuses([None, None], retry_failed=False)
    tally.record(2, [])
    assert tally.summary("alpha", Path("out"), False, 1.0).exit_code == 0
    assert tally.summary("alpha", Path("out"), True, 1.0).exit_code == 130
    tally.record(1, ["crashed"])
    assert tally.summary("alpha", Path("out"), False, 1.0).exit_code == 1


def test_the_summary_line_names_every_count() -> None:
    tally = Tally.from_statuses(["ok", None, None], retry_failed=False)
    tally.record(1, ["error"])
    line = tally.summary("alpha", Path("out/alpha"), True, 65).line()
    assert line == (
        "alpha: 1/3 ok, 1 error, 1 remaining; ran 1 jobs in 1m05s, skipped 1 recorded "
        "earlier; results in out/alpha; the failures' tracebacks are in out/alpha/log.zst, and"
        " --retry-failed reruns them (interrupted: run again to resume)"
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
