"""End-to-end: disBatch barriers hold wherever we run, and are phases of a static split (18.3)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import run_module, write_configs
from splitter.store.results import ResultsReader

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="shell tasks are POSIX")

PHASED = """\
sleep 0.4; echo one
sleep 0.1; echo one
sleep 0.2; echo one
#DISBATCH BARRIER
echo two
sleep 0.3; echo two
#DISBATCH BARRIER
echo three
"""
CHECKED = """\
echo one
false
#DISBATCH BARRIER CHECK
touch after-the-check.txt
"""


def rows(folder: Path) -> list[dict[str, str]]:
    reader = ResultsReader(folder / "results.csv.zst")
    return [dict(zip(reader.header, row, strict=True)) for row in reader]


def phases_in_time(found: list[dict[str, str]]) -> list[tuple[float, float, str]]:
    """(start, end, the phase its command names) of every row."""
    return sorted(
        (float(row["start_time"]), float(row["start_time"]) + float(row["duration"]),
         row["command"].split()[-1])
        for row in found
    )  # fmt: skip


def assert_barriers_held(found: list[dict[str, str]]) -> None:
    spans = phases_in_time(found)
    for earlier, later in (("one", "two"), ("two", "three")):
        ended = max(end for _, end, phase in spans if phase == earlier)
        began = min(start for start, _, phase in spans if phase == later)
        assert ended <= began, (earlier, later, ended, began)


def tasks(tmp_path: Path, text: str) -> Path:
    (tmp_path / "tasks.txt").write_text(text, encoding="utf-8")
    return tmp_path


def run_tasks(folder: Path, *args: str) -> tuple[int, str, str]:
    done = run_module(["run", "--tasks", "tasks.txt", "--yes", *args], folder, timeout=120)
    return done.returncode, done.stdout, done.stderr


def test_on_one_machine_no_task_after_a_barrier_starts_before_every_one_before_it_ended(
    tmp_path: Path,
) -> None:
    folder = tasks(tmp_path, PHASED)
    code, _, err = run_tasks(folder, "--workers", "3")
    assert code == 0, err
    found = rows(next((folder / "results").iterdir()))
    assert len(found) == 6
    assert_barriers_held(found)


def test_barriers_hold_on_a_dask_cluster_too(tmp_path: Path) -> None:
    pytest.importorskip("distributed", reason="dask not installed: pip install 'splitter[dask]'")
    write_configs(tmp_path / "configs", {"alpha": [1.0, 2], "beta": [1.0, 2]}, "[run]\nnice = 0\n")
    folder = tasks(tmp_path, PHASED)
    code, _, err = run_tasks(folder, "--all", "--dask", "local:3")
    assert code == 0, err
    found = rows(folder / "results" / "all")
    assert len(found) == 6
    assert_barriers_held(found)


def test_a_barrier_check_after_a_failure_stops_the_run_there_and_retry_failed_goes_on(
    tmp_path: Path,
) -> None:
    folder = tasks(tmp_path, CHECKED)
    code, _, err = run_tasks(folder)
    assert code == 1
    assert (
        "stopping: the BARRIER CHECK of line 3 holds: 1 jobs before it failed; fix them, then"
        " run again with --retry-failed to go on"
    ) in err
    assert not (folder / "after-the-check.txt").exists()
    host = next((folder / "results").iterdir())
    assert json.loads((host / "manifest.json").read_text())["state"] == "stopped"
    again = run_tasks(folder)
    assert again[0] == 1 and not (folder / "after-the-check.txt").exists()
    (folder / "tasks.txt").write_text(CHECKED.replace("false", "true"), encoding="utf-8")
    fixed = run_tasks(folder, "--retry-failed")
    assert fixed[0] == 0, fixed[2]
    assert (folder / "after-the-check.txt").exists()


def test_a_static_split_runs_phase_by_phase_through_merges_and_run_after(
    tmp_path: Path,
) -> None:
    write_configs(tmp_path / "configs", {"alpha": [1.0, 2], "beta": [1.0, 2]}, "[run]\nnice = 0\n")
    folder = tasks(tmp_path, PHASED)
    plan = run_module(["plan", "--tasks", "tasks.txt"], folder)
    assert "phases  3, split one by one (barriers: line 4, line 7)" in plan.stdout
    for machine in ("alpha", "beta"):
        code, _, err = run_tasks(folder, "--machine", machine)
        assert code == 0, err
        assert "phase 1 of 3 done here" in err
    for phase in (1, 2):
        merged = run_module(["merge", "results/alpha", "results/beta", "--out", f"M{phase}"],
                            folder)  # fmt: skip
        assert merged.returncode == 0, merged.stderr
        assert f"phase {phase + 1} of 3 may start: on every host, `run --after M{phase}`" in (
            merged.stdout
        )
        for machine in ("alpha", "beta"):
            code, _, err = run_tasks(folder, "--machine", machine, "--after", f"M{phase}")
            assert code == 0, err
    final = run_module(["merge", "results/alpha", "results/beta", "--out", "M"], folder)
    assert final.returncode == 0 and "all 3 phases complete" in final.stdout
    found = rows(folder / "results" / "alpha") + rows(folder / "results" / "beta")
    assert len(found) == 6
    assert_barriers_held(found)


def test_without_the_merge_of_the_last_phase_a_host_runs_no_job_of_the_next(
    tmp_path: Path,
) -> None:
    write_configs(tmp_path / "configs", {"alpha": [1.0, 2], "beta": [1.0, 2]}, "[run]\nnice = 0\n")
    folder = tasks(tmp_path, PHASED)
    run_tasks(folder, "--machine", "alpha")
    again = run_tasks(folder, "--machine", "alpha")
    assert again[0] == 0
    assert {row["command"].split()[-1] for row in rows(folder / "results" / "alpha")} == {"one"}


def test_after_is_refused_where_this_run_holds_the_barriers_itself(tmp_path: Path) -> None:
    folder = tasks(tmp_path, PHASED)
    code, _, err = run_tasks(folder, "--after", "M")
    assert code == 2
    assert err.strip().endswith(
        "--after starts the next phase of a static split of a task file with barriers; here"
        " the barriers are held by this run itself, so run without --after"
    )
