"""End-to-end without Slurm: array tasks as Slurm's environment describes them, and the script.

These run the real CLI with the variables Slurm sets in an array task, so they
need no cluster; tests/test_slurm_cluster.py submits the same script to a real one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from splitter.merge.combine import merged_rows
from test_run_e2e import ENTRY, _ok_ids, manifest, rows, run, statuses, write_campaign

FIELDS = ("job_id", "status", "index", "draw", "square")


def task_env(task: int, count: int = 3, **more: str) -> dict[str, str]:
    """Slurm's variables in task ``task`` of ``sbatch --array=0-(count-1)``."""
    return {
        "SLURM_ARRAY_JOB_ID": "700",
        "SLURM_JOB_ID": str(701 + task),
        "SLURM_ARRAY_TASK_ID": str(task),
        "SLURM_ARRAY_TASK_MIN": "0",
        "SLURM_ARRAY_TASK_MAX": str(count - 1),
        "SLURM_ARRAY_TASK_COUNT": str(count),
        **more,
    }


def entry(tmp_path: Path, *args: str, env: dict[str, str] | None = None, size: int = 24):
    """``python campaign_main.py ARGS`` in tmp_path, outside any Slurm job of our own."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if k != "SPLITTER_MACHINE" and not k.startswith("SLURM_")
    }
    environment.update({"CAMPAIGN_SIZE": str(size), **(env or {})})
    return subprocess.run(
        [sys.executable, str(ENTRY), *args], cwd=tmp_path, env=environment,
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def values(folder: Path) -> list[tuple[str, ...]]:
    """The rows' values that do not depend on where or when a job ran, by job id."""
    found = [tuple(row[field] for field in FIELDS) for row in rows(folder)]
    return sorted(found, key=lambda row: int(row[0]))


def merged_values(folder: Path) -> list[tuple[str, ...]]:
    """The same values of a merged folder, in its order (by job id)."""
    header, *found = merged_rows(folder / "results.csv.zst")
    return [tuple(dict(zip(header, row, strict=True))[field] for field in FIELDS) for row in found]


def test_plan_shows_the_array_digest_that_digest_prints(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    planned = json.loads(entry(tmp_path, "plan", "--slurm-array", "3", "--json").stdout)
    full = entry(tmp_path, "digest", "--full", "--slurm-array", "3").stdout.strip()
    two = entry(tmp_path, "digest", "--full", "--slurm-array", "2").stdout.strip()
    assert planned["digest"] == full != two
    assert [(m["name"], m["share"]) for m in planned["machines"]] == [
        ("task-0", 8), ("task-1", 8), ("task-2", 8),
    ]  # fmt: skip


def test_three_array_tasks_merge_to_the_values_of_a_local_run_all(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    digest = entry(tmp_path, "digest", "--full", "--slurm-array", "3").stdout.strip()
    for task in range(3):
        done = run(tmp_path, "--expect-digest", digest, env=task_env(task))
        assert done.returncode == 0, done.stderr
        assert f"machine task-{task}: 8 of 24 jobs, digest {digest[:4]} " in done.stderr
    merged = entry(tmp_path, "merge", *(f"results/task-{k}" for k in range(3)), "--out", "m")
    assert merged.returncode == 0, merged.stderr
    assert run(tmp_path, "--all", "--out", "local").returncode == 0
    assert merged_values(tmp_path / "m") == values(tmp_path / "local" / "all")


def test_the_workers_are_the_cpus_slurm_gave_the_task(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    done = run(tmp_path, "--slurm-array", env=task_env(1, SLURM_CPUS_PER_TASK="3"), size=6)
    assert done.returncode == 0, done.stderr
    recorded = manifest(tmp_path / "results" / "task-1")
    assert recorded["workers"] == 3
    assert recorded["slurm"] == {
        "job_id": "700", "task": 1, "tasks": 3, "cpus_per_task": 3, "restart_count": 0,
    }  # fmt: skip


def test_a_requeued_task_resumes_its_folder(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    write_campaign(tmp_path, job=f"sleep = 0.1\nmarker_dir = {markers}")
    environment = {**os.environ, **task_env(2), "CAMPAIGN_SIZE": "90"}
    # The task is killed mid-run, as Slurm kills a task it requeues.
    process = subprocess.Popen(
        [sys.executable, str(ENTRY), "run", "--yes", "--configs", "configs", "--workers", "1"],
        cwd=tmp_path, env=environment, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    results = tmp_path / "results" / "task-2" / "results.csv.zst"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_ok_ids(results)) < 5:
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    ok_before = _ok_ids(results)
    assert 5 <= len(ok_before) < 30

    again = run(tmp_path, env=task_env(2, SLURM_RESTART_COUNT="1"), size=90)
    assert again.returncode == 0, again.stderr
    assert "Slurm requeued this task (restart 1): task-2 resumes its folder" in again.stderr
    assert f"skipped {len(ok_before)} recorded earlier" in again.stderr
    ran = Counter(int(path.name.split(".")[0]) for path in markers.iterdir())
    assert all(ran[job] == 1 for job in ok_before)
    assert len(set(statuses(tmp_path / "results" / "task-2"))) == 30
    assert manifest(tmp_path / "results" / "task-2")["slurm"]["restart_count"] == 1  # type: ignore[index]


def test_a_named_machine_inside_an_array_runs_as_that_machine(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    done = run(tmp_path, env={**task_env(0), "SPLITTER_MACHINE": "beta"}, size=6)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["beta"]


def test_slurm_array_outside_an_array_exits_2_naming_the_fix(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    done = entry(tmp_path, "run", "--slurm-array", "--yes", "--configs", "configs")
    assert done.returncode == 2
    assert "not a task of a job array; submit the script `slurm-script` prints" in done.stderr


def test_the_printed_script_runs_a_task_with_the_digest_baked_in(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    printed = subprocess.run(
        [sys.executable, "-m", "splitter", "slurm-script", str(ENTRY), "--array", "3",
         "--configs", "configs", "--out", "out"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "CAMPAIGN_SIZE": "24"},
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    digest = entry(tmp_path, "digest", "--full", "--slurm-array", "3").stdout.strip()
    assert f"    --expect-digest {digest} \\\n" in printed.stdout
    assert (tmp_path / "slurm-logs").is_dir()
    (tmp_path / "job.sh").write_text(printed.stdout)
    # What sbatch would do for task 1, without Slurm: bash runs the script.
    environment = {**os.environ, **task_env(1), "CAMPAIGN_SIZE": "24"}
    done = subprocess.run(
        ["bash", "job.sh"], cwd=tmp_path, env=environment, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(rows(tmp_path / "out" / "task-1")) == 8


def test_the_printed_script_reruns_one_task_alone_as_that_task(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    printed = subprocess.run(
        [sys.executable, str(ENTRY), "slurm-script", "--array", "3", "--configs", "configs"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "CAMPAIGN_SIZE": "24"},
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    assert f"exec {sys.executable} {ENTRY} run --slurm-array 3 \\\n" in printed.stdout
    (tmp_path / "job.sh").write_text(printed.stdout)
    # `sbatch --array=2 job.sh`: to Slurm an array of one task, whose id is 2.
    alone = {
        "SLURM_ARRAY_TASK_ID": "2",
        "SLURM_ARRAY_TASK_MIN": "2",
        "SLURM_ARRAY_TASK_COUNT": "1",
    }
    environment = {**os.environ, **task_env(2), **alone, "CAMPAIGN_SIZE": "24"}
    done = subprocess.run(
        ["bash", "job.sh"], cwd=tmp_path, env=environment, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "machine task-2: 8 of 24 jobs" in done.stderr
    assert len(rows(tmp_path / "results" / "task-2")) == 8


def test_slurm_script_of_a_missing_entry_exits_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "splitter", "slurm-script", "nowhere.py", "--array", "2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert (
        f"cannot read ENTRY {tmp_path / 'nowhere.py'} (No such file or directory)" in done.stderr
    )


def test_slurm_script_of_an_entry_that_fails_says_why(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "splitter", "slurm-script", str(ENTRY), "--array", "2",
         "--configs", "elsewhere"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "failed (exit 2: " in done.stderr and "--configs" in done.stderr
    assert "since every task would fail the same way" in done.stderr


def test_tasks_without_the_lowest_id_exit_2_before_running_task_0s_share(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    for task in (1, 2):
        env = {k: v for k, v in task_env(task).items() if k != "SLURM_ARRAY_TASK_MIN"}
        done = entry(tmp_path, "run", "--yes", "--configs", "configs", env=env)
        assert done.returncode == 2, done.stderr
        assert "Slurm's SLURM_ARRAY_TASK_MIN is not set" in done.stderr
    assert not (tmp_path / "results").exists()


def test_a_negative_cpus_per_task_exits_2_naming_the_variable(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    done = entry(
        tmp_path, "run", "--yes", "--configs", "configs",
        env=task_env(0, SLURM_CPUS_PER_TASK="-2"),
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "campaign_main.py: error: Slurm's SLURM_CPUS_PER_TASK is '-2', not a whole number from"
        " 1 to 65,535; run the task under sbatch as `slurm-script` writes it, or unset it"
    ]
