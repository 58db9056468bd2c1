"""End-to-end: `run --dask` on a real scheduler and real workers started as processes.

The workers start in a folder of their own, where the entry script cannot be
imported: the job reaches them by value.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dask_cluster import dask_processes
from splitter.merge.combine import merged_rows
from test_run_e2e import ENTRY, log_text, rows, run, statuses, write_campaign

pytest.importorskip("distributed", reason="dask not installed: pip install 'splitter[dask]'")

VALUES = ("job_id", "status", "error", "index", "draw", "square")


def merged_values(tmp_path: Path, folder: Path, name: str) -> list[tuple[str, ...]]:
    """Merge one host folder with the real CLI; its rows' values (not times, not machine)."""
    out = tmp_path / f"merged-{name}"
    result = subprocess.run(
        [sys.executable, str(ENTRY), "merge", str(folder), "--out", str(out)],
        cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    header, *merged = merged_rows(out / "results.csv.zst")
    where = [header.index(name) for name in VALUES]
    return [tuple(row[i] for i in where) for row in merged]


def start_run(tmp_path: Path, *args: str, size: int) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if k != "SPLITTER_MACHINE"}
    environment["CAMPAIGN_SIZE"] = str(size)
    return subprocess.Popen(
        [sys.executable, str(ENTRY), "run", "--yes", "--configs", "configs", "--all", *args],
        cwd=tmp_path, env=environment, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for_markers(folder: Path, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while len(list(folder.iterdir())) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run did not start its jobs"
        time.sleep(0.05)


def test_a_dask_run_that_loses_a_worker_merges_to_the_local_runs_rows(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    write_campaign(tmp_path, job=f"sleep = 0.05\nmarker_dir = {markers}")
    local = run(tmp_path, "--all", "--out", "local", size=60)
    assert local.returncode == 0, local.stderr
    for marker in markers.iterdir():
        marker.unlink()
    with dask_processes(tmp_path / "cluster", "w1", "w2") as cluster:
        process = start_run(tmp_path, "--dask", cluster.address, "--out", "dask", size=60)
        wait_for_markers(markers, 12, process)
        cluster.kill("w1")
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr + cluster.logs()
    assert "60/60 ok, 0 failed, 0 remaining" in stderr
    dask_values = merged_values(tmp_path, tmp_path / "dask" / "all", "dask")
    assert dask_values == merged_values(tmp_path, tmp_path / "local" / "all", "local")
    text = log_text(tmp_path / "dask" / "all")
    ran = [line.split(" ran jobs ")[1] for line in text.splitlines() if " ran jobs " in line]
    assert sorted(int(job) for line in ran for job in line.split(", ")) == list(range(60))
    assert len({line.split("dask worker ")[1].split()[0] for line in text.splitlines()
                if " ran jobs " in line}) == 2  # fmt: skip


def test_on_dask_failures_are_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    write_campaign(tmp_path, job="fail = 3\ncrash = 5\nhang = 11", run="job_timeout = 1.5")
    with dask_processes(tmp_path / "cluster", "w1", "w2") as cluster:
        result = run(tmp_path, "--all", "--dask", cluster.address, "--dask-attempts", "2")
    assert result.returncode == 1, result.stderr + cluster.logs()
    recorded = statuses(tmp_path / "results" / "all")
    assert recorded == {
        **dict.fromkeys(range(24), "ok"), 3: "error", 5: "crashed", 11: "timeout",
    }  # fmt: skip
    errors = {int(row["job_id"]): row["error"] for row in rows(tmp_path / "results" / "all")}
    assert errors[3] == "ValueError: job 3 refuses second line"
    assert errors[5] == ("worker process died 2 times while running this job (on a Dask worker)")
    assert errors[11] == "job ran longer than job_timeout = 1.5 s; its worker was stopped"
    assert "21/24 ok, 1 error, 1 crashed, 1 timeout, 0 remaining" in result.stderr
    assert "Traceback" not in result.stderr


def test_losing_the_scheduler_stops_the_run_and_a_rerun_resumes(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    write_campaign(tmp_path, job=f"sleep = 0.1\nmarker_dir = {markers}")
    with dask_processes(tmp_path / "cluster", "w1") as cluster:
        process = start_run(tmp_path, "--dask", cluster.address, size=40)
        wait_for_markers(markers, 15, process)
        cluster.kill("scheduler")
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert f"error: lost the connection to the Dask scheduler at {cluster.address}" in stderr
    assert "run the same command again to resume" in stderr
    done = statuses(tmp_path / "results" / "all")
    assert 0 < len(done) < 40
    again = run(tmp_path, "--all", size=40)
    assert again.returncode == 0, again.stderr
    assert f"ran {40 - len(done)} jobs" in again.stderr
    assert statuses(tmp_path / "results" / "all") == dict.fromkeys(range(40), "ok")


def test_a_lost_scheduler_is_one_sentence_on_the_console_and_its_reason_is_in_the_log(
    tmp_path: Path,
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    write_campaign(tmp_path, job=f"sleep = 0.1\nmarker_dir = {markers}")
    with dask_processes(tmp_path / "cluster", "w1") as cluster:
        process = start_run(tmp_path, "--dask", cluster.address, size=40)
        wait_for_markers(markers, 10, process)
        cluster.kill("scheduler")
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    # distributed printed ~35 lines of its tracebacks here before the sentence.
    assert "Traceback" not in stderr
    assert not [line for line in stderr.splitlines() if "distributed" in line], stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("campaign_main.py: error: lost the connection to the Dask scheduler")
    log = log_text(tmp_path / "results" / "all")
    assert f"the run stops: lost the connection to the Dask scheduler at {cluster.address}" in log
    assert "distributed." in log  # its own records, tracebacks included, are kept there
