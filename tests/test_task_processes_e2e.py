"""End-to-end: what a task's processes may do to the run, and what they leave behind: nothing.

Each test runs `splitter run --tasks FILE` as a subprocess; the sleeps it
starts have durations of their own (`processes.unique_sleep`), and `ps` must
show none of them once the run is over. Whatever happens, the ``finally``
kills them and the run's process groups.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_module, write_configs
from processes import (
    alive,
    alive_in_group,
    kill_leftovers,
    pid_in,
    running,
    unique_sleep,
    wait_for,
)
from splitter.store.results import ResultsReader

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the tests read /proc (Linux)"
)

MACHINES = {"alpha": [1.0, 2]}
CONFIG = "[run]\nnice = 0\n"


def campaign(tmp_path: Path, tasks: str, config: str = CONFIG) -> Path:
    write_configs(tmp_path / "configs", MACHINES, config)
    (tmp_path / "tasks.txt").write_text(tasks, encoding="utf-8")
    return tmp_path


def run_tasks(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_module(["run", "--tasks", "tasks.txt", "--yes", "--all", *args], work, timeout=60)


def start_tasks(work: Path, *args: str) -> subprocess.Popen[str]:
    """The run in a session of its own, so a test can kill all of it."""
    environment = {k: v for k, v in os.environ.items() if k != "SPLITTER_MACHINE"}
    argv = [sys.executable, "-m", "splitter", "run", "--tasks", "tasks.txt", "--yes", "--all"]
    return subprocess.Popen(
        [*argv, *args], cwd=work, env=environment, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip


def results(work: Path) -> dict[int, dict[str, str]]:
    path = work / "results" / "all" / "results.csv.zst"
    if not path.exists():
        return {}
    reader = ResultsReader(path)
    found = [dict(zip(reader.header, row, strict=True)) for row in reader]
    return {int(row["job_id"]): row for row in found}


def test_a_task_that_kills_its_worker_leaving_a_sleep_behind_does_not_stall_the_run(
    tmp_path: Path,
) -> None:
    sleep = unique_sleep(100000)
    work = campaign(tmp_path, f"setsid sleep {sleep} & kill -9 $PPID\ntrue\ntrue\n")
    try:
        ran = run_tasks(work, "--workers", "1")
        assert ran.returncode == 1, ran.stderr
        found = results(work)
        assert [found[i]["status"] for i in range(3)] == ["crashed", "ok", "ok"]
        assert found[0]["error"].startswith("worker process died (signal SIGKILL")
        assert running("sleep", sleep) == []
    finally:
        kill_leftovers([sleep])


def test_a_task_writing_into_every_descriptor_it_could_inherit_cannot_hang_the_run(
    tmp_path: Path,
) -> None:
    # 20 bytes into each open descriptor above 2: a worker's pipe to the parent
    # would take them as the start of a message and wait for the rest.
    line = (
        "for fd in $(seq 3 64); do if [ -e /proc/$$/fd/$fd ]; then "
        'eval "printf 01234567890123456789 >&$fd"; fi; done'
    )
    work = campaign(tmp_path, f"{line}\n" * 3)
    ran = run_tasks(work, "--workers", "1")

    assert ran.returncode == 0, ran.stderr
    assert [row["status"] for row in results(work).values()] == ["ok"] * 3


def test_a_task_has_no_file_descriptor_above_2(tmp_path: Path) -> None:
    # The shell's own /proc/self/fd, tested by a builtin (no process, no descriptor of its own).
    line = (
        "for fd in $(seq 0 1023); do [ -e /proc/self/fd/$fd ] && "
        'echo -n "$fd " >> "$SPLITTER_OUT/fds-$SPLITTER_JOB_ID"; done; true'
    )
    work = campaign(tmp_path, f"{line}\n" * 2)
    ran = run_tasks(work)

    assert ran.returncode == 0, ran.stderr
    folder = work / "results" / "all"
    assert [(folder / f"fds-{i}").read_text() for i in range(2)] == ["0 1 2 "] * 2


def test_when_a_worker_is_killed_its_task_dies_at_once_and_the_job_is_crashed(
    tmp_path: Path,
) -> None:
    sleep = unique_sleep(120)
    # Not the shell's last command, so the shell forks the sleep and waits.
    line = f'echo $PPID > worker; echo $$ > group; sleep {sleep}; echo done > "$SPLITTER_OUT/late"'
    work = campaign(tmp_path, f"{line}\ntrue\n")
    process = start_tasks(work, "--workers", "1")
    try:
        wait_for(lambda: (work / "group").exists() and running("sleep", sleep) != [])
        os.kill(pid_in(work / "worker"), signal.SIGKILL)
        # Far less than the sleep: the run does not wait for the task.
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 1, stderr
        found = results(work)
        assert (found[0]["status"], found[1]["status"]) == ("crashed", "ok")
        assert found[0]["error"].startswith("worker process died (signal SIGKILL")
        assert alive_in_group(pid_in(work / "group")) == []
        assert running("sleep", sleep) == []
        assert not (work / "results" / "all" / "late").exists()
    finally:
        kill_leftovers([sleep], [process.pid])


@pytest.mark.parametrize(
    "shape",
    [
        "setsid nohup sleep {sleep} > /dev/null 2>&1 &",
        "setsid -f sleep {sleep}",
        "set -m; sleep {sleep} &",
        "(sleep {sleep} &) ; true",
        "env -i setsid sleep {sleep} &",
    ],
)
def test_what_a_task_leaves_in_a_session_or_group_of_its_own_is_killed_when_it_ends(
    tmp_path: Path, shape: str
) -> None:
    sleep = unique_sleep(300)
    work = campaign(tmp_path, shape.format(sleep=sleep) + "\n")
    try:
        ran = run_tasks(work, "--workers", "1")
        assert ran.returncode == 0, ran.stderr
        assert running("sleep", sleep) == []
    finally:
        kill_leftovers([sleep])


def test_sighup_stops_the_run_at_once_kills_the_tasks_and_the_manifest_says_interrupted(
    tmp_path: Path,
) -> None:
    sleep = unique_sleep(100)
    line = f'echo $$ > "g$SPLITTER_JOB_ID"; sleep {sleep}; true'
    work = campaign(tmp_path, f"{line}\n" * 2)
    process = start_tasks(work, "--workers", "2")
    try:
        wait_for(lambda: len(running("sleep", sleep)) == 2)
        process.send_signal(signal.SIGHUP)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 130, stderr
        manifest = json.loads((work / "results" / "all" / "manifest.json").read_text())
        assert manifest["state"] == "interrupted"
        assert [alive_in_group(pid_in(work / f"g{i}")) for i in range(2)] == [[], []]
        assert running("sleep", sleep) == []
        assert results(work) == {}
    finally:
        kill_leftovers([sleep], [process.pid])


def test_kill_9_of_the_parent_takes_its_workers_and_their_tasks_with_it(tmp_path: Path) -> None:
    sleep = unique_sleep(100)
    line = f'echo $PPID > "w$SPLITTER_JOB_ID"; setsid sleep {sleep} & sleep {sleep}; true'
    work = campaign(tmp_path, f"{line}\n" * 2)
    process = start_tasks(work, "--workers", "2")
    try:
        wait_for(lambda: len(running("sleep", sleep)) == 4)
        workers = [pid_in(work / f"w{i}") for i in range(2)]
        process.kill()
        process.communicate(timeout=30)
        wait_for(lambda: not any(map(alive, workers)) and running("sleep", sleep) == [], 30)
    finally:
        kill_leftovers([sleep], [process.pid])


def test_tasks_run_in_the_folder_of_tasks_cwd_relative_to_where_splitter_started(
    tmp_path: Path,
) -> None:
    work = campaign(tmp_path, 'pwd > "$SPLITTER_OUT/pwd"\n', CONFIG + "[tasks]\ncwd = sub\n")
    (work / "sub").mkdir()
    ran = run_tasks(work)

    assert ran.returncode == 0, ran.stderr
    assert (work / "results" / "all" / "pwd").read_text() == f"{work / 'sub'}\n"


def test_a_tasks_cwd_that_is_not_a_folder_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    work = campaign(tmp_path, "true\n", CONFIG + "[tasks]\ncwd = missing\n")
    ran = run_tasks(work)

    assert ran.returncode == 2
    assert ran.stderr == (
        f"splitter: error: [tasks] cwd = 'missing' is not a folder on this host "
        f"({work / 'missing'}); create it, or fix the path in splitter.ini\n"
    )
    assert not (work / "results").exists()


def test_stopping_at_once_gives_a_task_its_grace_before_the_sigkill(tmp_path: Path) -> None:
    line = 'trap "echo stopped > \\"$SPLITTER_OUT/../trapped-$SPLITTER_JOB_ID\\"; exit 0" TERM; '
    line += 'echo $$ > "g$SPLITTER_JOB_ID"; while true; do sleep 0.05; done'
    work = campaign(tmp_path, f"{line}\n")
    process = start_tasks(work, "--workers", "1")
    try:
        wait_for(lambda: (work / "g0").exists())
        time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 130
        assert (work / "results" / "trapped-0").read_text() == "stopped\n"
        assert alive_in_group(pid_in(work / "g0")) == []
    finally:
        kill_leftovers([], [process.pid])
