"""End-to-end: task files on a real Dask cluster: where tasks run, and how they stop.

The workers are `dask worker` processes started in a folder of their own
(`dask_cluster`); the client is `splitter run --tasks FILE --dask ADDRESS`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_module, write_configs
from dask_cluster import dask_processes
from processes import alive, kill_leftovers, pid_in, running, unique_sleep, wait_for

pytest.importorskip("distributed", reason="dask not installed: pip install 'splitter[dask]'")
pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the tests read /proc (Linux)"
)

CONFIG = "[run]\nnice = 0\n"


def campaign(tmp_path: Path, tasks: str, config: str = CONFIG) -> Path:
    write_configs(tmp_path / "configs", {"alpha": [1.0, 2]}, config)
    (tmp_path / "tasks.txt").write_text(tasks, encoding="utf-8")
    return tmp_path


def start_tasks(work: Path, address: str, *args: str) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if k != "SPLITTER_MACHINE"}
    argv = [sys.executable, "-m", "splitter", "run", "--tasks", "tasks.txt", "--yes", "--all"]
    return subprocess.Popen(
        [*argv, "--dask", address, *args], cwd=work, env=environment,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip


def test_on_dask_tasks_run_where_splitter_was_started_or_in_tasks_cwd(tmp_path: Path) -> None:
    work = campaign(tmp_path / "work", 'pwd > "$SPLITTER_OUT/pwd-$SPLITTER_JOB_ID"\n' * 2)
    (work / "sub").mkdir()
    with dask_processes(tmp_path / "cluster", "w1") as cluster:
        plain = run_module(
            ["run", "--tasks", "tasks.txt", "--yes", "--all", "--dask", cluster.address], work
        )
        (work / "configs" / "splitter.ini").write_text(CONFIG + "[tasks]\ncwd = sub\n")
        chosen = run_module(
            ["run", "--tasks", "tasks.txt", "--yes", "--all", "--dask", cluster.address,
             "--out", "chosen"],
            work,
        )  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    assert chosen.returncode == 0, chosen.stderr
    folder, other = work / "results" / "all", work / "chosen" / "all"
    assert [(folder / f"pwd-{i}").read_text() for i in range(2)] == [f"{work}\n"] * 2
    assert [(other / f"pwd-{i}").read_text() for i in range(2)] == [f"{work / 'sub'}\n"] * 2


def test_sigterm_of_the_dask_client_stops_the_tasks_running_on_the_workers(
    tmp_path: Path,
) -> None:
    sleep = unique_sleep(100)
    work = campaign(tmp_path / "work", f"sleep {sleep}; true\n" * 2)
    with dask_processes(tmp_path / "cluster", "w1", "w2") as cluster:
        process = start_tasks(work, cluster.address)
        try:
            wait_for(lambda: len(running("sleep", sleep)) == 2, 60)
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=60)
            assert process.returncode == 130, stderr
            # The workers stay up; only the tasks the client gave up end.
            wait_for(lambda: running("sleep", sleep) == [], 30)
        finally:
            kill_leftovers([sleep], [process.pid])


def test_a_task_whose_dask_worker_is_killed_dies_with_it_and_its_rerun_never_overlaps_it(
    tmp_path: Path,
) -> None:
    sleep = unique_sleep(100)
    # The first attempt leaves its sleep's pid and its worker's; the next one
    # looks for that sleep, alive (not a zombie), before it does anything.
    line = (
        "if [ -e ../first ]; then p=$(cat ../first); "
        'if [ -e /proc/$p/stat ] && [ "$(cut -d" " -f3 /proc/$p/stat)" != Z ]; then '
        "echo overlap > ../overlap; fi; true; "
        f"else echo $PPID > ../worker; sleep {sleep} & echo $! > ../first; wait; fi"
    )
    work = campaign(tmp_path / "work", line + "\n", CONFIG + "[tasks]\ncwd = tasks\n")
    (work / "tasks").mkdir()
    with dask_processes(tmp_path / "cluster", "w1") as cluster:
        process = start_tasks(work, cluster.address)
        try:
            wait_for(lambda: (work / "first").exists() and running("sleep", sleep) != [], 60)
            os.kill(pid_in(work / "worker"), signal.SIGKILL)  # the worker, not its nanny
            _, stderr = process.communicate(timeout=120)
            assert process.returncode == 0, stderr + cluster.logs()
            assert not (work / "overlap").exists(), "the rerun ran beside its orphan"
            assert running("sleep", sleep) == []
        finally:
            kill_leftovers([sleep], [process.pid])


def test_kill_9_of_a_client_with_a_local_cluster_takes_its_workers_and_their_tasks(
    tmp_path: Path,
) -> None:
    sleep = unique_sleep(100)
    work = campaign(tmp_path, f'echo $PPID > "w$SPLITTER_JOB_ID"; sleep {sleep}; true\n' * 2)
    process = start_tasks(work, "local:2")
    try:
        wait_for(lambda: len(running("sleep", sleep)) == 2, 60)
        workers = [pid_in(work / f"w{i}") for i in range(2)]
        process.kill()
        process.communicate(timeout=30)
        wait_for(lambda: not any(map(alive, workers)) and running("sleep", sleep) == [], 30)
    finally:
        kill_leftovers([sleep], [process.pid])
