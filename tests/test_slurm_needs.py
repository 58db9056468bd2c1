"""End-to-end without Slurm: the array script asks for what the campaign's jobs need."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import write_configs
from splitter.store.results import ResultsReader

ENTRY = """\
import os

import splitter


def job(index):
    return {"gpus": os.environ["SPLITTER_GPUS"], "cores": os.environ["SPLITTER_CORES"]}


def needs(index):
    return {"gpus": 1, "mem": "6G"} if index % 3 == 0 else {"cores": 3}


if __name__ == "__main__":
    splitter.main(job, range(12), needs=needs)
"""
SLURM_TASK_1 = {
    "SLURM_ARRAY_JOB_ID": "700", "SLURM_JOB_ID": "702", "SLURM_ARRAY_TASK_ID": "1",
    "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "1", "SLURM_ARRAY_TASK_COUNT": "2",
    "SLURM_CPUS_PER_TASK": "4", "SLURM_MEM_PER_NODE": "12288",
}  # fmt: skip


def environment(**more: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SPLITTER_"))}
    return {**kept, **more}


def print_script(folder: Path, *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, *argv, "--array", "2", "--cpus", "2", "--configs", "configs"],
        cwd=folder, env=environment(), stdin=subprocess.DEVNULL, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_script_asks_for_the_cpus_gpus_and_memory_the_kinds_need(tmp_path: Path) -> None:
    write_configs(tmp_path / "configs")
    (tmp_path / "main.py").write_text(ENTRY, encoding="utf-8")
    script = print_script(tmp_path, "main.py", "slurm-script")
    options = [line for line in script.splitlines() if line.startswith("#SBATCH --")]
    # The most cores (3) and GPUs (1) of any kind; memory for the 3 GPU jobs
    # of 6G that 3 cpus and 1 GPU run at once: 1 of them.
    assert options[2:5] == [
        "#SBATCH --cpus-per-task=3", "#SBATCH --gres=gpu:1", "#SBATCH --mem=6G"
    ]  # fmt: skip
    assert "# Every task asks for the most any kind of job needs" in script
    (tmp_path / "job.sh").write_text(script, encoding="utf-8")
    done = subprocess.run(
        ["bash", "job.sh"], cwd=tmp_path, env=environment(**SLURM_TASK_1),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    reader = ResultsReader(tmp_path / "results" / "task-1" / "results.csv.zst")
    rows = [dict(zip(reader.header, row, strict=False)) for row in reader]
    assert len(rows) == 6
    assert {(int(row["job_id"]) % 3 == 0, row["gpus"], row["cores"]) for row in rows} == {
        (True, "0", "1"), (False, "", "3")
    }  # fmt: skip


def test_the_script_of_a_task_file_asks_for_what_its_needs_lines_say(tmp_path: Path) -> None:
    write_configs(tmp_path / "configs")
    tasks = "echo plain\n#SPLITTER NEEDS gpus=1 mem=4G\necho $SPLITTER_GPUS\necho again\n"
    (tmp_path / "tasks.txt").write_text(tasks, encoding="utf-8")
    script = print_script(tmp_path, "-m", "splitter", "slurm-script", "--tasks", "tasks.txt")
    assert f"exec {sys.executable} -m splitter run --slurm-array 2 \\\n" in script
    options = [line for line in script.splitlines() if line.startswith("#SBATCH --")]
    assert options[2:5] == [
        "#SBATCH --cpus-per-task=2", "#SBATCH --gres=gpu:1", "#SBATCH --mem=4G"
    ]  # fmt: skip
    (tmp_path / "job.sh").write_text(script, encoding="utf-8")
    done = subprocess.run(
        ["bash", "job.sh"], cwd=tmp_path, env=environment(**SLURM_TASK_1),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "machine task-1: 1 of 3 jobs" in done.stderr
