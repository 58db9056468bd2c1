"""The supervisor under spawn: rows come back, a dying worker costs only its own job."""

from __future__ import annotations

from typing import Any

import pytest

import jobs_for_tests as jobs
from labels import key_of, keys_of
from splitter.run.engine import FormattedRows, JobPool, JobSetup, Row
from splitter.run.injection import JobRandom
from splitter.run.local.supervisor import Supervisor, WorkersFailedError


def setup(job: Any) -> JobSetup:
    return JobSetup(
        job=job, machine="alpha", campaign_seed=bytes(32), config_text="",
        config_source="test.ini", log_level=30, log_format="%(message)s", declared_columns=(),
        nice=0, job_log_dir=None, compression_level=3,
    )  # fmt: skip


def pool(total: int) -> JobPool:
    """The pool ``range(total)`` as engines take it: its items and their keys."""
    return JobPool(list(range(total)), keys_of(total))


def run_all(
    job: Any, ids: list[int], workers: int = 2, timeout: float | None = None
) -> tuple[list[Row], list[dict[str, Any]]]:
    logs: list[dict[str, Any]] = []
    supervisor = Supervisor(setup(job), pool(100), ids, workers, logs.append, timeout)
    supervisor.start()
    rows: list[Row] = []
    try:
        while not supervisor.finished:
            for received in supervisor.step(0.05):
                assert not isinstance(received, FormattedRows)
                rows.append(received)
    finally:
        supervisor.close()
    return rows, logs


def test_every_job_comes_back_once_with_its_value() -> None:
    rows, _ = run_all(jobs.square, list(range(40)))
    assert sorted((row[0], row[1], row[5]) for row in rows) == [
        (i, "ok", i * i) for i in range(40)
    ]


def test_a_worker_that_dies_costs_only_its_own_job() -> None:
    rows, _ = run_all(jobs.crash_on_three, list(range(20)))
    by_id = {row[0]: row for row in rows}
    assert sorted(by_id) == list(range(20))
    assert len(rows) == 20
    assert by_id[3][1] == "crashed"
    assert by_id[3][4].startswith("worker process died (exit code 9")
    assert all(row[1] == "ok" for job_id, row in by_id.items() if job_id != 3)


def test_a_job_over_the_timeout_is_stopped_and_the_rest_run() -> None:
    rows, _ = run_all(jobs.sleep_on_five, list(range(10)), timeout=0.5)
    statuses = {row[0]: row[1] for row in rows}
    assert statuses == {**dict.fromkeys(range(10), "ok"), 5: "timeout"}


def test_injected_random_numbers_do_not_depend_on_the_worker_count() -> None:
    one, _ = run_all(jobs.draws, list(range(12)), workers=1)
    two, _ = run_all(jobs.draws, list(range(12)), workers=2)
    assert {row[0]: row[5] for row in one} == {row[0]: row[5] for row in two}
    # Each job's stream comes from the campaign seed and its key alone.
    own = JobRandom(bytes(32), bytes.fromhex(key_of(7)))
    assert {row[0]: row[5] for row in one}[7] == jobs.draws(7, random_obj=own)


def test_rows_are_formatted_by_workers_once_columns_are_known() -> None:
    supervisor = Supervisor(setup(jobs.square), pool(50), list(range(50)), 1, print)
    supervisor.columns = ("value",)
    supervisor.start()
    texts = []
    try:
        while not supervisor.finished:
            texts.extend(supervisor.step(0.05))
    finally:
        supervisor.close()
    assert all(isinstance(item, FormattedRows) for item in texts)
    assert sum(item.count for item in texts) == 50
    lines = "".join(item.text for item in texts).splitlines()
    cells = [line.split(",") for line in lines]
    assert sorted((int(c[0]), c[6], int(c[9])) for c in cells) == [
        (i, key_of(i), i * i) for i in range(50)
    ]


def test_workers_that_die_at_start_are_an_error_not_an_endless_respawn() -> None:
    broken = setup(jobs.square)
    broken = JobSetup(**{**broken.__dict__, "config_text": "[broken"})
    with pytest.raises(WorkersFailedError, match="exit right after starting"):
        run_all_with(broken)


def run_all_with(worker_setup: JobSetup) -> None:
    supervisor = Supervisor(worker_setup, pool(5), list(range(5)), 1, print)
    supervisor.start()
    try:
        while not supervisor.finished:
            supervisor.step(0.05)
    finally:
        supervisor.kill()


def test_a_job_that_kills_its_worker_after_returning_is_crashed_after_two_deaths() -> None:
    supervisor = Supervisor(
        setup(jobs.kill_worker_after_returning_on_two), pool(100), list(range(6)), 1, print
    )
    spawned = 0
    spawn = supervisor._spawn

    def counting_spawn(slot: int) -> None:
        nonlocal spawned
        spawned += 1
        spawn(slot)

    supervisor._spawn = counting_spawn  # type: ignore[method-assign]
    supervisor.start()
    rows: list[Row] = []
    try:
        while not supervisor.finished:
            rows.extend(supervisor.step(0.05))  # type: ignore[arg-type]
    finally:
        supervisor.close()
    by_id = {row[0]: row for row in rows}
    assert len(rows) == 6
    assert {job_id: row[1] for job_id, row in by_id.items()} == {
        **dict.fromkeys(range(6), "ok"),
        2: "crashed",
    }
    assert by_id[2][4] == (
        "worker process died (exit code 7; os._exit() or a fatal error in native code) after "
        "this job returned, before its result was sent (while logging, pickling or sending it)"
    )
    assert spawned <= 3  # the first worker, then at most one respawn per death


def test_a_child_the_job_forks_never_reports_so_each_job_comes_back_once() -> None:
    rows, _ = run_all(jobs.fork_and_return, list(range(8)))
    assert sorted((row[0], row[1], row[5]) for row in rows) == [(i, "ok", i) for i in range(8)]


def test_a_job_raising_keyboard_interrupt_is_an_error_of_that_job() -> None:
    rows, logs = run_all(jobs.raise_keyboard_interrupt, list(range(4)))
    by_id = {row[0]: row for row in rows}
    assert len(rows) == 4
    assert (by_id[1][1], by_id[1][4]) == ("error", "KeyboardInterrupt")
    assert [log["msg"] for log in logs] == ["job 1 failed: KeyboardInterrupt"]
    assert "raise KeyboardInterrupt" in logs[0]["exc_text"]


def test_a_result_that_cannot_be_sent_is_an_error_row_saying_why() -> None:
    rows, _ = run_all(jobs.lambda_on_odd, [0, 1, 2, 3], workers=1)
    by_id = {row[0]: row for row in rows}
    assert [(i, by_id[i][1], by_id[i][5]) for i in (0, 2)] == [
        (0, "ok", {"x": 0}),
        (2, "ok", {"x": 2}),
    ]
    for i in (1, 3):
        assert by_id[i][1] == "error" and by_id[i][5] is None
        assert by_id[i][4].startswith("the job's result cannot be sent from its worker: ")
