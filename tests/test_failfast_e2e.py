"""End-to-end: --max-failures / --fail-fast stop a run, a resume goes on; repeats collapse."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import run_cli, run_module, write_configs
from splitter.store.logfile import log_parts, read_log_records
from splitter.store.results import ResultsReader

ENTRY = Path(__file__).parent / "entries" / "campaign_main.py"


def campaign(tmp_path: Path, job: str) -> Path:
    write_configs(tmp_path / "configs", {"alpha": [1.0, 2]}, f"[run]\nnice = 0\n[job]\n{job}\n")
    return tmp_path


def recorded(folder: Path) -> dict[str, str]:
    reader = ResultsReader(folder / "results.csv.zst")
    return {row[0]: row[2] for row in reader}


def test_max_failures_stops_the_run_at_the_nth_failure_and_a_resume_goes_on(
    tmp_path: Path,
) -> None:
    folder = campaign(tmp_path, "fail = 0,1,2,3,4,5\nsleep = 0.05")
    args = ["run", "--machine", "alpha", "--yes", "--workers", "1", "--out", "out"]
    env = {"CAMPAIGN_SIZE": "40"}
    stopped = run_cli([*args, "--max-failures", "2"], folder, env, entry=ENTRY)
    assert stopped.returncode == 1
    assert "stopping: 2 jobs failed (--max-failures 2)" in stopped.stderr
    assert "(stopped: 2 jobs failed (--max-failures 2); run again to resume)" in stopped.stderr
    first = recorded(folder / "out" / "alpha")
    assert list(first.values()).count("error") == 2
    assert len(first) < 40
    manifest = json.loads((folder / "out" / "alpha" / "manifest.json").read_text())
    assert manifest["state"] == "stopped"
    resumed = run_cli(args, folder, env, entry=ENTRY)
    assert resumed.returncode == 1
    every = recorded(folder / "out" / "alpha")
    assert sorted(map(int, every)) == list(range(40))
    assert sorted(int(job) for job, status in every.items() if status == "error") == list(range(6))


@pytest.mark.skipif(sys.platform == "win32", reason="shell tasks are POSIX")
def test_fail_fast_stops_the_running_tasks_which_a_resume_runs_again(tmp_path: Path) -> None:
    write_configs(tmp_path / "configs", {"alpha": [1.0, 2]}, "[run]\nnice = 0\n")
    (tmp_path / "tasks.txt").write_text("sleep 30 && touch slow.txt\nsleep 0.5; false\ntrue\n")
    args = ["run", "--tasks", "tasks.txt", "--machine", "alpha", "--yes", "--workers", "2"]
    stopped = run_module([*args, "--fail-fast"], tmp_path, timeout=60)
    assert stopped.returncode == 1
    assert "stopping: 1 jobs failed (--max-failures 1)" in stopped.stderr
    first = recorded(tmp_path / "results" / "alpha")
    assert first == {"1": "error"}
    assert not (tmp_path / "slow.txt").exists()


def test_repeated_failures_show_once_on_the_console_with_how_many_more(tmp_path: Path) -> None:
    folder = campaign(tmp_path, "fail = " + ",".join(map(str, range(20))))
    done = run_cli(["run", "--all", "--yes", "--out", "out"], folder, {"CAMPAIGN_SIZE": "25"},
                   entry=ENTRY)  # fmt: skip
    assert done.returncode == 1
    shown = [line for line in done.stderr.splitlines() if "refuses" in line]
    assert len(shown) == 2
    assert shown[0].startswith("error: job ") and shown[0].endswith("refuses second line")
    assert shown[1].endswith("refuses second line (and 19 more like it)")
    logged = [text for _, text in read_log_records(log_parts(folder / "out" / "all"))]
    assert sum("failed: ValueError" in text for text in logged) == 20
