"""`run` and its workers load only what running jobs needs: start-up is paid on every host.

The entry script records the modules its parent process holds at exit and
each job the modules of the worker that ran it; the run goes through the
real command line, with spawned workers.
"""

from __future__ import annotations

from pathlib import Path

from conftest import run_cli, write_configs
from splitter.merge.table import read_table

ENTRY = """\
import atexit
import multiprocessing
import sys

import splitter


def job(x):
    return {"modules": " ".join(sorted(sys.modules))}


def record_parent():
    with open("parent-modules.txt", "w") as f:
        f.write(" ".join(sorted(sys.modules)))


if __name__ == "__main__":
    multiprocessing.freeze_support()
    atexit.register(record_parent)
    splitter.main(job, list(range(4)))
"""

# Nothing of these is needed to run jobs on this machine's pool.
NOT_ON_RUNS_PATH = (
    "splitter.merge", "splitter.report", "splitter.run.calibrate", "splitter.run.dask",
    "splitter.run.shelltask", "splitter.run.taskoutput", "splitter.campaign.taskfile",
    "dask", "distributed", "matplotlib", "pandas", "pyarrow", "tqdm",
)  # fmt: skip
# The parent's side of a run, which a worker never needs.
NOT_IN_A_WORKER = (
    *NOT_ON_RUNS_PATH, "splitter.cli", "splitter.run.command", "splitter.run.runner",
    "splitter.run.local.supervisor", "splitter.run.display", "splitter.run.logs",
    "splitter.store.results", "splitter.store.frames", "splitter.store.logfile",
    "splitter.campaign.load", "splitter.campaign.plan", "zstandard", "numpy",
)  # fmt: skip


def _loaded(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


def _run(tmp_path: Path) -> Path:
    write_configs(tmp_path / "configs")
    (tmp_path / "main.py").write_text(ENTRY, encoding="utf-8")
    done = run_cli(["run", "--all", "--yes", "--workers", "2"], tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    return tmp_path


def test_run_loads_nothing_of_merge_report_calibrate_dask_or_the_task_runner(
    tmp_path: Path,
) -> None:
    parent = set((_run(tmp_path) / "parent-modules.txt").read_text().split())
    assert "splitter.run.local.supervisor" in parent  # the record is of a real run
    assert _loaded(parent, NOT_ON_RUNS_PATH) == []


def test_a_worker_loads_only_what_running_a_job_needs(tmp_path: Path) -> None:
    table = read_table(_run(tmp_path) / "results" / "all")
    workers = [set(cell.split()) for cell in table.columns["modules"]]
    assert all("splitter.run.local.worker" in modules for modules in workers)
    assert [_loaded(modules, NOT_IN_A_WORKER) for modules in workers] == [[]] * 4
