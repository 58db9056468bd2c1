"""End-to-end: ``needs=`` reaches the command line and the library, and bad needs stop both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import splitter
from conftest import run_cli, run_module, write_configs
from splitter.errors import UsageError
from splitter.store.results import ResultsReader

ENTRY = """\
import splitter


def job(item):
    return {{"item": item}}


if __name__ == "__main__":
    splitter.main(job, list(range(4)), needs={needs})
"""


def write_campaign(folder: Path, needs: str) -> None:
    write_configs(folder / "configs")
    (folder / "main.py").write_text(ENTRY.format(needs=needs), encoding="utf-8")


def test_a_needs_function_that_raises_stops_plan_with_exit_2(tmp_path: Path) -> None:
    write_campaign(tmp_path, 'lambda item: {"cores": 4 // (2 - item)}')
    result = run_cli(["plan"], tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "main.py: error: the needs function raised ZeroDivisionError (integer division or "
        'modulo by zero) on job 2; make it return a dict like {"cores": 4, "gpus": 1, '
        '"mem": "8G", "tags": ["openfoam"]} for every item\n'
    )


def test_bad_needs_stop_run_before_anything_is_written(tmp_path: Path) -> None:
    write_campaign(tmp_path, '{"mem": "8 gigs"}')
    result = run_cli(["run", "--machine", "alpha", "--yes"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("main.py: error: every job needs mem='8 gigs', but mem")
    assert not (tmp_path / "results").exists()


def test_good_needs_let_plan_go_on(tmp_path: Path) -> None:
    write_campaign(tmp_path, '{"cores": 2}')
    result = run_cli(["digest"], tmp_path)
    assert (result.returncode, result.stderr) == (0, "")


def test_a_job_no_machine_can_hold_is_refused_with_exit_2_before_anything_runs(
    tmp_path: Path,
) -> None:
    write_campaign(tmp_path, 'lambda item: {"cores": 8} if item == 3 else {}')
    result = run_cli(["run", "--machine", "alpha", "--yes"], tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "main.py: error: job 3 needs cores=8, but no machine in machines.json can hold it "
        "(the closest, 'gamma', has cores=4); lower what the job needs, or declare a machine "
        "that has it\n"
    )
    assert not (tmp_path / "results").exists()


def test_run_jobs_refuses_bad_needs_before_running(tmp_path: Path) -> None:
    write_configs(tmp_path / "configs")
    with pytest.raises(UsageError, match=r"^the needs function returned list for job 0"):
        splitter.run_jobs(
            abs, range(3), configs=tmp_path / "configs", out=tmp_path / "out",
            needs=lambda item: [item],
        )  # fmt: skip
    assert not (tmp_path / "out").exists()


GUARDED = """\
import splitter


def job(megabytes, *, resources):
    return {"held": len(bytearray(megabytes * 2**20)) // 2**20, "mem": resources.mem}


if __name__ == "__main__":
    splitter.main(job, [8, 400, 16], needs={"mem": "64M"})
"""


def test_run_with_enforce_mem_records_a_job_past_its_memory_as_an_error(tmp_path: Path) -> None:
    machines = {"alpha": {"perf": 1.0, "cores": 1, "mem": "1G"}}
    write_configs(tmp_path / "configs", machines, config="[run]\nenforce_mem = true\n")
    (tmp_path / "main.py").write_text(GUARDED, encoding="utf-8")
    result = run_cli(["run", "--machine", "alpha", "--yes"], tmp_path)
    assert result.returncode == 1, result.stderr
    reader = ResultsReader(tmp_path / "results" / "alpha" / "results.csv.zst")
    rows = {row[0]: dict(zip(reader.header, row, strict=False)) for row in reader}
    assert [(rows[i]["status"], rows[i]["held"]) for i in ("0", "2")] == [
        ("ok", "8"),
        ("ok", "16"),
    ]
    assert (rows["1"]["status"], rows["1"]["error"]) == (
        "error", "used more than its 64 MiB (MemoryError)"
    )  # fmt: skip
    assert rows["0"]["mem"] == str(64 * 2**20)


TASKS = """\
echo plain > "$SPLITTER_OUT/plain-$SPLITTER_JOB_ID"
#SPLITTER NEEDS gpus=1 tags=openfoam
echo "$SPLITTER_GPUS $CUDA_VISIBLE_DEVICES $OMP_NUM_THREADS" > "$SPLITTER_OUT/gpu-$SPLITTER_JOB_ID"
echo "$SPLITTER_GPUS $CUDA_VISIBLE_DEVICES $OMP_NUM_THREADS" > "$SPLITTER_OUT/gpu-$SPLITTER_JOB_ID"
#SPLITTER NEEDS cores=2
echo "$SPLITTER_CORES $OMP_NUM_THREADS" > "$SPLITTER_OUT/wide-$SPLITTER_JOB_ID"
"""
TAGGED = {
    "cpu": [1.0, 4],
    "foam": {"perf": 1.0, "cores": 2, "gpus": 1, "tags": ["openfoam"]},
}


def test_a_task_files_needs_lines_route_and_pack_its_tasks(tmp_path: Path) -> None:
    write_configs(tmp_path / "configs", TAGGED)
    (tmp_path / "tasks.txt").write_text(TASKS, encoding="utf-8")
    plan = run_module(["plan", "--json", "--tasks", "tasks.txt"], tmp_path)
    assert plan.returncode == 0, plan.stderr
    shown = json.loads(plan.stdout)
    assert [kind["needs"] for kind in shown["kinds"]] == [
        "cores=1", "cores=1 gpus=1 tags=openfoam", "cores=2"
    ]  # fmt: skip
    assert [machine["kinds"][1]["share"] for machine in shown["machines"]] == [0, 2]
    done = run_module(["run", "--tasks", "tasks.txt", "--machine", "foam", "--yes"], tmp_path)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "results" / "foam"
    assert sorted((path.name, path.read_text()) for path in folder.glob("gpu-*")) == [
        ("gpu-1", "0 0 1\n"), ("gpu-2", "0 0 1\n")
    ]  # fmt: skip
