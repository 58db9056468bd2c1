"""The local pool for a workstation's owner: stopped in place, continued, fewer or more workers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import jobs_for_tests as jobs
from splitter.run.cpus import usable_cpus
from splitter.run.engine import Row
from splitter.run.local.supervisor import Supervisor
from test_supervisor import pool, setup

linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def state_of(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]


def drive(supervisor: Supervisor, rows: list[Row], until: Any) -> None:
    """Step the supervisor, collecting rows, until ``until()`` holds (or 30 s pass)."""
    deadline = time.monotonic() + 30
    while not until() and time.monotonic() < deadline:
        rows.extend(supervisor.step(0.02))  # type: ignore[arg-type]
    assert until(), "timed out"


def overlapping(rows: list[Row]) -> int:
    """The most rows whose [start, start + duration) intervals overlap at once."""
    edges = sorted([(row[2], 1) for row in rows] + [(row[2] + row[3], -1) for row in rows])
    most = now = 0
    for _, change in edges:
        now += change
        most = max(most, now)
    return most


@linux_only
def test_a_pause_in_place_stops_the_running_workers_and_resume_finishes_every_job() -> None:
    supervisor = Supervisor(setup(jobs.nap), pool(6), list(range(6)), 2, print)
    supervisor.start()
    rows: list[Row] = []
    try:
        drive(supervisor, rows, lambda: len(supervisor.running()) == 2)
        supervisor.pause(in_place=True)
        assert supervisor.paused_in_place
        stopped = {state_of(handle.process.pid) for handle in supervisor._handles.values()}
        assert stopped == {"T"}
        supervisor.resume()
        assert not supervisor.paused_in_place
        drive(supervisor, rows, lambda: supervisor.finished)
    finally:
        supervisor.close()
    assert sorted((row[0], row[1]) for row in rows) == [(i, "ok") for i in range(6)]


def test_a_soft_pause_lets_running_jobs_finish_and_starts_none() -> None:
    supervisor = Supervisor(setup(jobs.nap), pool(6), list(range(6)), 2, print)
    supervisor.start()
    rows: list[Row] = []
    try:
        drive(supervisor, rows, lambda: len(supervisor.running()) == 2)
        supervisor.pause(in_place=False)
        drive(supervisor, rows, lambda: len(rows) == 2 and not supervisor.running())
        for _ in range(20):
            rows.extend(supervisor.step(0.02))  # type: ignore[arg-type]
        assert len(rows) == 2 and not supervisor.finished
        supervisor.resume()
        drive(supervisor, rows, lambda: supervisor.finished)
    finally:
        supervisor.close()
    assert sorted(row[0] for row in rows) == list(range(6))


def test_the_job_timeout_leaves_the_paused_time_out() -> None:
    supervisor = Supervisor(setup(jobs.nap), pool(2), [0], 1, print, job_timeout=1.5)
    supervisor.start()
    rows: list[Row] = []
    try:
        drive(supervisor, rows, lambda: bool(supervisor.running()))
        supervisor.pause(in_place=True)
        time.sleep(2.5)
        for _ in range(5):
            rows.extend(supervisor.step(0.02))  # type: ignore[arg-type]
        assert rows == [] and supervisor.running()[0].seconds < 1.5
        supervisor.resume()
        drive(supervisor, rows, lambda: supervisor.finished)
    finally:
        supervisor.close()
    assert [(row[0], row[1]) for row in rows] == [(0, "ok")]


def test_fewer_workers_start_no_job_until_fewer_run() -> None:
    supervisor = Supervisor(setup(jobs.nap), pool(6), list(range(6)), 2, print)
    supervisor.start()
    supervisor.set_workers(1)
    rows: list[Row] = []
    try:
        drive(supervisor, rows, lambda: supervisor.finished)
    finally:
        supervisor.close()
    assert sorted(row[0] for row in rows) == list(range(6))
    assert overlapping(rows) == 1


@pytest.mark.skipif(usable_cpus() < 2, reason="needs 2 CPUs to allow 2 workers")
def test_more_workers_start_the_workers_they_need() -> None:
    supervisor = Supervisor(setup(jobs.nap), pool(6), list(range(6)), 1, print)
    supervisor.start()
    rows: list[Row] = []
    try:
        supervisor.set_workers(2)
        drive(supervisor, rows, lambda: supervisor.finished)
    finally:
        supervisor.close()
    assert sorted(row[0] for row in rows) == list(range(6))
    assert overlapping(rows) == 2


def test_workers_outside_one_to_the_most_are_refused() -> None:
    supervisor = Supervisor(setup(jobs.nap), pool(2), [0, 1], 1, print)
    most = supervisor.most_workers
    assert most == max(1, usable_cpus())
    with pytest.raises(ValueError) as caught:
        supervisor.set_workers(most + 1)
    assert str(caught.value) == f"workers must be from 1 to {most}, not {most + 1}"
