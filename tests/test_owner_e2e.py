"""Sharing a workstation, end to end: pause, continue and workers from another terminal,
and the [owner] policies, on real runs of the CLI in subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import run_module
from splitter.run.proctree import descendants, process_table
from splitter.store.results import ResultsReader

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists() or not hasattr(signal, "SIGSTOP"),
    reason="reads job processes' CPU time and state in Linux's /proc",
)

ENTRY = '''\
"""A campaign whose jobs burn [job] spin seconds of CPU time, or sleep [job] nap seconds."""

import multiprocessing
import time

import splitter


def job(index, *, random_obj, config):
    end = time.process_time() + config.getfloat("job", "spin", fallback=0.0)
    while time.process_time() < end:
        pass
    time.sleep(config.getfloat("job", "nap", fallback=0.0))
    return {"index": index, "draw": random_obj.random()}


if __name__ == "__main__":
    multiprocessing.freeze_support()
    splitter.main(job, list(range(int(__import__("os").environ["JOBS"]))))
'''


def campaign(tmp_path: Path, ini: str) -> Path:
    (tmp_path / "configs").mkdir(exist_ok=True)
    (tmp_path / "configs" / "machines.json").write_text('{"alpha": [1.0, 2]}')
    (tmp_path / "configs" / "splitter.ini").write_text(ini)
    (tmp_path / "main.py").write_text(ENTRY)
    return tmp_path


def start(tmp_path: Path, jobs: int, workers: int = 1, out: str = "out") -> subprocess.Popen[str]:
    argv = [sys.executable, "main.py", "run", "--all", "--yes", "--out", out]
    return subprocess.Popen(
        [*argv, "--workers", str(workers)], cwd=tmp_path, env={**os.environ, "JOBS": str(jobs)},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for(what: Callable[[], Any], seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with_value = what()
        if with_value:
            return with_value
        time.sleep(0.05)
    raise AssertionError("timed out")


def manifest(folder: Path) -> dict[str, Any]:
    try:
        found: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return found


def owner_of(folder: Path) -> dict[str, Any]:
    owner: dict[str, Any] = manifest(folder).get("owner") or {}
    return owner if "most_workers" in owner else {}


def rows(folder: Path) -> list[list[str]]:
    """The rows flushed so far (a live run's open last frame is not read)."""
    if not (folder / "results.csv.zst").exists():
        return []
    return list(ResultsReader(folder / "results.csv.zst"))


def values(folder: Path) -> dict[int, str]:
    found = rows(folder)
    assert len(found) == len({row[0] for row in found}), "a job ran twice"
    return {int(row[0]): row[-2] for row in found}


def job_ticks(runner: int) -> dict[int, int]:
    """CPU ticks of each process under the runner (its workers and what they run)."""
    table = process_table()
    assert table is not None
    return {pid: table[pid].ticks for pid in descendants(table, runner) if pid in table}


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_module(list(args), cwd=tmp_path)


def finish(process: subprocess.Popen[str], seconds: float = 120) -> int:
    """Wait for the run to end by itself; its exit code."""
    try:
        return process.wait(timeout=seconds)
    finally:
        kill_if_running(process)


def kill_if_running(process: subprocess.Popen[Any]) -> None:
    """Kill the run if it still runs (a test that failed half-way leaves none behind)."""
    if process.poll() is None:
        process.kill()
        process.wait()


def test_a_paused_run_writes_no_row_and_its_jobs_use_no_cpu_then_it_finishes_unchanged(
    tmp_path: Path,
) -> None:
    campaign(tmp_path, "[job]\nspin = 0.3\n")
    folder = tmp_path / "out" / "all"
    process = start(tmp_path, jobs=8)
    try:
        wait_for(lambda: owner_of(folder) and rows(folder))
        paused = cli(tmp_path, "pause", "out/all")
        assert paused.returncode == 0, paused.stderr
        assert paused.stdout.startswith("all paused since ")
        assert "(by hand): its running jobs stop in place" in paused.stdout
        time.sleep(1.5)  # rows finished before the pause reach the file within a second
        before, ticks = len(rows(folder)), job_ticks(process.pid)
        time.sleep(2.0)
        assert len(rows(folder)) == before
        assert job_ticks(process.pid) == ticks
        status = cli(tmp_path, "status", "out/all")
        assert ": running, paused since " in status.stdout
        assert " (by hand), " in status.stdout
        going = cli(tmp_path, "continue", "out/all")
        assert going.returncode == 0, going.stderr
        assert going.stdout.startswith("all continues after ")
    except BaseException:
        kill_if_running(process)
        raise
    code = finish(process)
    assert code == 0, process.stderr.read() if process.stderr else ""
    data = manifest(folder)
    assert data["state"] == "finished"
    [[began, ended, reason]] = data["paused_intervals"]
    assert reason == "by hand" and began < ended
    unpaused = start(tmp_path, jobs=8, workers=2, out="plain")
    assert finish(unpaused) == 0
    assert values(folder) == values(tmp_path / "plain" / "all")
    assert sorted(values(folder)) == list(range(8))


def overlap(found: list[list[str]]) -> int:
    """The most jobs whose [start, start + duration) intervals overlap at once."""
    edges = sorted(
        [(float(row[3]), 1) for row in found]
        + [(float(row[3]) + float(row[4]), -1) for row in found]
    )
    most = now = 0
    for _, change in edges:
        now += change
        most = max(most, now)
    return most


def test_workers_down_to_one_and_back_change_how_many_jobs_run_at_once(tmp_path: Path) -> None:
    campaign(tmp_path, "[job]\nnap = 0.3\n")
    folder = tmp_path / "out" / "all"
    process = start(tmp_path, jobs=24, workers=2)
    try:
        wait_for(lambda: owner_of(folder) and len(rows(folder)) >= 2)
        fewer = cli(tmp_path, "workers", "out/all", "1")
        assert fewer.returncode == 0, fewer.stderr
        assert fewer.stdout == "all runs at most 1 job at once from now (it ran 2)\n"
        one_from = time.time()
        # Rows are flushed about once a second: count the jobs started since, not the rows.
        wait_for(lambda: sum(float(row[3]) > one_from for row in rows(folder)) >= 4)
        one_until = time.time()
        more = cli(tmp_path, "workers", "out/all", "2")
        assert more.returncode == 0, more.stderr
        two_from = time.time()
    except BaseException:
        kill_if_running(process)
        raise
    code = finish(process)
    assert code == 0
    found = rows(folder)
    assert sorted(int(row[0]) for row in found) == list(range(24))
    started = [(float(row[3]), row) for row in found]
    assert overlap([row for at, row in started if at < one_from]) == 2
    # A job that starts within a nap of one_until may still run when the second worker is back.
    alone = [row for at, row in started if one_from < at < one_until - 0.5]
    assert alone and all(overlap([row, other]) == 1 for row in alone for other in found
                         if other is not row)  # fmt: skip
    assert overlap([row for at, row in started if at > two_from]) == 2
    assert owner_of(folder) == {} or manifest(folder)["owner"]["workers"] == 2


def test_the_load_of_another_process_pauses_the_run_and_its_end_continues_it(
    tmp_path: Path,
) -> None:
    # The machine is shared: only a machine kept all busy by the test's own processes
    # must pause the run, and anything short of that must let it continue.
    cpus = len(os.sched_getaffinity(0))
    rules = f"[owner]\nmax_load = {cpus - 0.3:g}\ncheck_interval = 0.3\ngrace = 1\n"
    campaign(tmp_path, "[job]\nnap = 0.3\n" + rules)
    folder = tmp_path / "out" / "all"
    process = start(tmp_path, jobs=40)
    hogs: list[subprocess.Popen[bytes]] = []
    reason = f"load of other processes above {cpus - 0.3:g}"
    try:
        wait_for(lambda: owner_of(folder) and not owner_of(folder)["paused"] and rows(folder))
        busy = [sys.executable, "-c", "while True: pass"]
        hogs = [subprocess.Popen(busy) for _ in range(2 * cpus)]
        paused = wait_for(lambda: (owner_of(folder).get("paused") or {}).get("reason"), 60)
        assert paused == reason
        for hog in hogs:
            hog.kill()
            hog.wait()
        assert finish(process, 300) == 0
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
        kill_if_running(process)
    intervals = manifest(folder)["paused_intervals"]
    assert intervals and all(end is not None for _, end, _ in intervals)
    assert reason in {why for _, _, why in intervals}
    assert sorted(values(folder)) == list(range(40))


def _hours_from_now(start: int, end: int) -> str:
    clock = time.localtime()
    now = clock.tm_hour * 60 + clock.tm_min

    def hhmm(minutes: int) -> str:
        return f"{(now + minutes) // 60 % 24:02d}:{(now + minutes) % 60:02d}"

    return f"{hhmm(start)}-{hhmm(end)}"


def test_outside_its_hours_a_run_pauses_at_start_and_resumes_later_without_the_rule(
    tmp_path: Path,
) -> None:
    hours = _hours_from_now(120, 180)
    campaign(tmp_path, f"[job]\nnap = 0.05\n[owner]\nhours = {hours}\ncheck_interval = 0.2\n")
    folder = tmp_path / "out" / "all"
    process = start(tmp_path, jobs=6)
    try:
        paused = wait_for(lambda: owner_of(folder).get("paused"))
        assert paused["reason"] == f"outside hours {hours}"
        time.sleep(1.5)
        assert rows(folder) == []
        assert f"(outside hours {hours}), 0/6 done" in cli(tmp_path, "status", "out/all").stdout
        refused = cli(tmp_path, "continue", "out/all")
        assert refused.returncode == 2
        assert refused.stderr == (
            f"splitter: error: all (out/all) is paused by its [owner] policy (outside hours "
            f"{hours}), not by hand; it continues by itself once that clears, or change [owner]"
            " in its splitter.ini and run it again\n"
        )
        process.terminate()
        assert finish(process) == 130
    finally:
        kill_if_running(process)
    [[_, ended, _]] = manifest(folder)["paused_intervals"]
    assert ended is not None
    # [owner] is not in the digest: the same folder resumes under another policy.
    campaign(tmp_path, "[job]\nnap = 0.05\n")
    assert finish(start(tmp_path, jobs=6)) == 0
    assert sorted(values(folder)) == list(range(6))
    assert [why for _, _, why in manifest(folder)["paused_intervals"]] == [
        f"outside hours {hours}"
    ]


def test_the_owner_commands_refuse_what_cannot_be_done_in_one_sentence(tmp_path: Path) -> None:
    campaign(tmp_path, "[job]\nnap = 0.2\n")
    folder = tmp_path / "out" / "all"
    (tmp_path / "empty").mkdir()

    def refused(*args: str) -> str:
        done = cli(tmp_path, *args)
        assert done.returncode == 2, done
        assert done.stdout == ""
        return done.stderr.removeprefix("splitter: error: ").rstrip("\n")

    assert refused("pause", "empty") == (
        "empty is not a run's folder (it has no manifest.json); pass the folder `run` writes,"
        " OUT/<machine>"
    )
    process = start(tmp_path, jobs=60, workers=2)
    try:
        wait_for(lambda: owner_of(folder))
        most = owner_of(folder)["most_workers"]
        for count in ("0", str(most + 1)):
            assert refused("workers", "out/all", count) == (
                f"workers {count} is out of range for all: give 1 to {most} (this machine's "
                "CPUs, or the workers it started with if more)"
            )
        assert refused("workers", "out/all", "2") == (
            "all (out/all) runs at most 2 jobs at once already; nothing changed"
        )
        assert refused("continue", "out/all") == "all (out/all) is not paused; nothing changed"
        assert cli(tmp_path, "pause", "out/all").returncode == 0
        assert refused("pause", "out/all").startswith(
            "all (out/all) is paused by hand already, since "
        )
        soft = cli(tmp_path, "pause", "--soft", "out/all")
        assert "its running jobs finish, and no new one starts" in soft.stdout
        process.terminate()
        assert finish(process) == 130
    finally:
        kill_if_running(process)
    assert refused("pause", "out/all") == (
        "no run is running in out/all (it was stopped; its manifest says 'interrupted'); there"
        " is nothing to pause until `run` resumes it"
    )
    assert finish(start(tmp_path, jobs=2, out="small")) == 0
    assert refused("workers", "small/all", "1") == (
        "the run in small/all has finished; there is nothing to change the workers of"
    )


def test_a_paused_run_killed_leaves_no_stopped_job_and_resumes_as_any_killed_run(
    tmp_path: Path,
) -> None:
    campaign(tmp_path, "[job]\nspin = 0.4\n")
    folder = tmp_path / "out" / "all"
    process = start(tmp_path, jobs=5)
    try:
        wait_for(lambda: owner_of(folder) and job_ticks(process.pid))
        assert cli(tmp_path, "pause", "out/all").returncode == 0
        jobs = list(job_ticks(process.pid))
        process.kill()
        process.wait()
    finally:
        kill_if_running(process)

    def stopped() -> list[int]:
        table = process_table() or {}
        return [pid for pid in jobs if pid in table and _state(pid) == "T"]

    wait_for(lambda: not stopped(), 10)
    status = cli(tmp_path, "status", "out/all")
    assert "all (out/all): stopped (not running); run again to resume, " in status.stdout
    assert finish(start(tmp_path, jobs=5)) == 0
    assert sorted(values(folder)) == list(range(5))


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return "gone"


def test_a_task_file_pauses_its_shell_tasks_in_place(tmp_path: Path) -> None:
    campaign(tmp_path, "")
    loop = "i=0; while [ $i -lt 2000000 ]; do i=$((i+1)); done; echo $i"
    (tmp_path / "tasks.txt").write_text(f"{loop}\n{loop}\n")
    argv = [sys.executable, "-m", "splitter", "run", "--tasks", "tasks.txt", "--all", "--yes"]
    process = subprocess.Popen(
        [*argv, "--workers", "1", "--out", "out"], cwd=tmp_path, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    folder = tmp_path / "out" / "all"

    def shells() -> list[int]:
        table = process_table() or {}
        return [pid for pid in descendants(table, process.pid) if _name(pid) == "bash"]

    try:
        wait_for(lambda: owner_of(folder) and shells())
        assert cli(tmp_path, "pause", "out/all").returncode == 0
        assert {_state(pid) for pid in shells()} == {"T"}
        ticks = job_ticks(process.pid)
        time.sleep(1.0)
        assert job_ticks(process.pid) == ticks
        assert cli(tmp_path, "continue", "out/all").returncode == 0
        assert process.wait(timeout=120) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert [row[2] for row in rows(folder)] == ["ok", "ok"]


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def test_on_dask_a_pause_lets_the_running_batches_finish_and_submits_no_more(
    tmp_path: Path,
) -> None:
    pytest.importorskip("distributed", reason="needs the dask extra")
    campaign(tmp_path, "[job]\nnap = 0.3\n")
    folder = tmp_path / "out" / "all"
    argv = [sys.executable, "main.py", "run", "--all", "--yes", "--out", "out"]
    process = subprocess.Popen(
        [*argv, "--dask", "local:1"], cwd=tmp_path, env={**os.environ, "JOBS": "20"},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        owner = wait_for(lambda: owner_of(folder), 120)
        assert (owner["stops_in_place"], owner["most_workers"]) == (False, None)
        hard = cli(tmp_path, "pause", "out/all")
        assert hard.returncode == 2 and "pass --soft" in hard.stderr
        assert cli(tmp_path, "pause", "--soft", "out/all").returncode == 0
        time.sleep(2.5)
        before = len(rows(folder))
        time.sleep(1.5)
        assert len(rows(folder)) == before < 20
        assert cli(tmp_path, "continue", "out/all").returncode == 0
        assert process.wait(timeout=120) == 0
    finally:
        kill_if_running(process)
    assert sorted(values(folder)) == list(range(20))


def test_ctrl_c_stops_a_paused_run_at_once_since_its_stopped_jobs_cannot_finish(
    tmp_path: Path,
) -> None:
    campaign(tmp_path, "[job]\nspin = 2\n")
    folder = tmp_path / "out" / "all"
    process = start(tmp_path, jobs=4)
    try:
        wait_for(lambda: owner_of(folder) and job_ticks(process.pid))
        assert cli(tmp_path, "pause", "out/all").returncode == 0
        jobs = list(job_ticks(process.pid))
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
    finally:
        kill_if_running(process)
    assert manifest(folder)["state"] == "interrupted"
    assert not [pid for pid in jobs if _state(pid) == "T"]
