"""End-to-end on a real Slurm: the printed array script, submitted with sbatch, then merged.

Needs a running one-node cluster: `make slurm-test` starts one with
tests/slurm/start.sh and runs these tests with SPLITTER_REQUIRE_SLURM=1, where
a missing cluster fails instead of skipping. Plain `make test` skips them
when sbatch is absent or no cluster answers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_run_e2e import ENTRY, _ok_ids, manifest, run, write_campaign
from test_slurm_e2e import merged_values, values

DEFAULT_CONF = "/tmp/splitter-slurm/slurm.conf"  # where tests/slurm/start.sh writes it
WAIT_SECONDS = 120
NO_SBATCH = "sbatch not installed: apt-get install slurm-wlm munge (.ci/install-slurm.sh)"
NO_CLUSTER = "no Slurm cluster answers: `make slurm-test` starts one (tests/slurm/start.sh)"


def _unavailable(reason: str) -> None:
    if os.environ.get("SPLITTER_REQUIRE_SLURM") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def slurm_env() -> dict[str, str]:
    """The environment that reaches the cluster tests/slurm/start.sh started."""
    if shutil.which("sbatch") is None:
        _unavailable(NO_SBATCH)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    environment["SLURM_CONF"] = os.environ.get("SLURM_CONF", DEFAULT_CONF)
    environment.pop("SPLITTER_MACHINE", None)
    if not Path(environment["SLURM_CONF"]).is_file():
        _unavailable(NO_CLUSTER)
    try:
        answer = subprocess.run(
            ["sinfo", "--noheader", "--responding", "-o", "%T"],
            env=environment, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    except subprocess.TimeoutExpired:  # with its controller down, sinfo retries
        _unavailable(NO_CLUSTER)
    if answer.returncode != 0 or not answer.stdout.strip():
        _unavailable(NO_CLUSTER)
    return environment


def slurm(env: dict[str, str], *argv: str, cwd: Path | None = None) -> str:
    """Run a Slurm command; its stdout."""
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{argv}: {done.stderr}"
    return done.stdout


def submit(tmp_path: Path, env: dict[str, str], tasks: int, *sbatch: str) -> str:
    """Print the array script with slurm-script, submit it (sbatch options); its job id."""
    script = subprocess.run(
        [sys.executable, "-m", "splitter", "slurm-script", str(ENTRY), "--array", str(tasks),
         "--configs", "configs", "--out", "out"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert script.returncode == 0, script.stderr
    (tmp_path / "job.sh").write_text(script.stdout)
    submitted = slurm(env, "sbatch", "--parsable", *sbatch, "job.sh", cwd=tmp_path)
    return submitted.strip().split(";")[0]


def wait_for(env: dict[str, str], job: str) -> None:
    """Wait until no task of ``job`` is queued or running (bounded)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while slurm(env, "squeue", "--noheader", "--jobs", job).strip():
        if time.monotonic() > deadline:
            slurm(env, "scancel", job)
            pytest.fail(f"Slurm job {job} did not finish within {WAIT_SECONDS}s")
        time.sleep(0.5)


def test_an_array_of_three_merges_to_the_values_of_a_local_run_all(
    tmp_path: Path, slurm_env: dict[str, str]
) -> None:
    write_campaign(tmp_path)
    env = {**slurm_env, "CAMPAIGN_SIZE": "24"}
    job = submit(tmp_path, env, 3)
    wait_for(env, job)
    for task in range(3):
        assert manifest(tmp_path / "out" / f"task-{task}")["state"] == "finished"
    merged = run_merge(tmp_path, env, 3)
    assert merged.returncode == 0, merged.stderr
    assert run(tmp_path, "--all", "--out", "local").returncode == 0
    assert merged_values(tmp_path / "m") == values(tmp_path / "local" / "all")
    logs = sorted(path.name for path in (tmp_path / "slurm-logs").iterdir())
    assert logs == [f"slurm-{job}_{task}.log" for task in range(3)]


def test_one_task_submitted_alone_runs_as_that_task_of_the_array(
    tmp_path: Path, slurm_env: dict[str, str]
) -> None:
    write_campaign(tmp_path)
    env = {**slurm_env, "CAMPAIGN_SIZE": "24"}
    job = submit(tmp_path, env, 3, "--array=2")
    wait_for(env, job)
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["task-2"]
    assert manifest(tmp_path / "out" / "task-2")["share"] == 8
    log = (tmp_path / "slurm-logs" / f"slurm-{job}_2.log").read_text()
    assert "task-2: 8/8 ok, 0 failed, 0 remaining" in log


def test_a_task_requeued_mid_run_resumes_and_the_merge_is_complete(
    tmp_path: Path, slurm_env: dict[str, str]
) -> None:
    write_campaign(tmp_path, job="sleep = 0.1")
    env = {**slurm_env, "CAMPAIGN_SIZE": "60"}
    job = submit(tmp_path, env, 2)
    results = tmp_path / "out" / "task-0" / "results.csv.zst"
    deadline = time.monotonic() + WAIT_SECONDS
    while len(_ok_ids(results)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    slurm(env, "scontrol", "requeue", f"{job}_0")
    # A requeued job waits for a begin time minutes ahead; once pending, start it now.
    while (
        slurm(env, "squeue", "--noheader", "--jobs", f"{job}_0", "-o", "%T").strip() != "PENDING"
    ):
        assert time.monotonic() < deadline, "the requeued task never became pending"
        time.sleep(0.2)
    slurm(env, "scontrol", "update", f"JobId={job}_0", "StartTime=now")
    wait_for(env, job)
    folder = tmp_path / "out" / "task-0"
    assert manifest(folder)["slurm"]["restart_count"] == 1  # type: ignore[index]
    assert manifest(folder)["state"] == "finished"
    log = (tmp_path / "slurm-logs" / f"slurm-{job}_0.log").read_text()
    assert "Slurm requeued this task (restart 1): task-0 resumes its folder" in log
    assert "task-0: 30/30 ok" in log
    merged = run_merge(tmp_path, env, 2)
    assert merged.returncode == 0, merged.stderr
    assert "60 expected, 60 ok, 0 failed, 0 missing" in merged.stdout


def run_merge(tmp_path: Path, env: dict[str, str], tasks: int) -> subprocess.CompletedProcess[str]:
    folders = [f"out/task-{task}" for task in range(tasks)]
    return subprocess.run(
        [sys.executable, str(ENTRY), "merge", *folders, "--out", "m"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_phases_of_a_task_file_run_as_chained_arrays_and_their_merges(
    tmp_path: Path, slurm_env: dict[str, str]
) -> None:
    (tmp_path / "tasks.txt").write_text(
        "echo one >> $SPLITTER_MACHINE.txt\necho one >> $SPLITTER_MACHINE.txt\n"
        "#DISBATCH BARRIER CHECK\n"
        "echo two >> $SPLITTER_MACHINE.txt\necho two >> $SPLITTER_MACHINE.txt\n"
    )
    script = subprocess.run(
        [sys.executable, "-m", "splitter", "slurm-script", "--tasks", "tasks.txt", "--array",
         "2", "--out", "out"],
        cwd=tmp_path, env=slurm_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert script.returncode == 0, script.stderr
    (tmp_path / "phased.sh").write_text(script.stdout)
    submitted = subprocess.run(
        ["bash", "phased.sh"], cwd=tmp_path, env=slurm_env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    last = submitted.stdout.split("the campaign's merge: ")[1].split(",")[0]
    for job in submitted.stdout.split():
        if job.isdigit():
            wait_for(slurm_env, job)
    wait_for(slurm_env, last)
    final = (tmp_path / "out" / "phase-2" / "report.json").read_text()
    assert '"missing": []' in final and '"next_phase": 1' in final
    for task in ("task-0", "task-1"):
        lines = (tmp_path / f"{task}.txt").read_text().split()
        assert lines == sorted(lines, key=["one", "two"].index)
