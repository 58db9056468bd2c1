"""An entry script's mistakes that spawned workers trip on: one sentence naming the fix, once."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from conftest import run_cli, write_configs
from splitter.run.mainguard import (
    UNGUARDED_EXIT,
    check_not_under_main_guard,
    leave_if_a_worker_imports_main,
    start_failure,
)

GUARDED_JOB = """\
import multiprocessing

import splitter

if __name__ == "__main__":
    multiprocessing.freeze_support()

    def job(x):
        return {"x": x}

    splitter.main(job, list(range(6)))
"""

NO_GUARD = """\
import splitter


def job(x):
    return {"x": x}


splitter.main(job, list(range(6)))
"""

UNSTORABLE = """\
import multiprocessing

import splitter


def job(x):
    if x == 1:
        return lambda: 1
    if x == 2:
        return (i for i in range(3))
    if x == 3:
        return {"x": x, "g": (i for i in range(3))}
    if x == 4:
        raise ValueError("bad four")
    return {"x": x}


if __name__ == "__main__":
    multiprocessing.freeze_support()
    splitter.main(job, list(range(8)))
"""


def _run(tmp_path: Path, source: str, workers: int = 2) -> tuple[int, str]:
    write_configs(tmp_path / "configs")
    (tmp_path / "main.py").write_text(source, encoding="utf-8")
    done = run_cli(["run", "--all", "--yes", "--workers", str(workers)], tmp_path, timeout=120)
    return done.returncode, done.stderr


def test_a_job_defined_under_the_main_guard_is_refused_before_any_worker_starts(
    tmp_path: Path,
) -> None:
    code, stderr = _run(tmp_path, GUARDED_JOB)
    assert code == 2
    assert stderr == (
        'main.py: error: the job `job` is defined inside `if __name__ == "__main__":` in'
        f" {tmp_path / 'main.py'}, which worker processes do not run, so they cannot import"
        " it; define `job` at module level, above that block\n"
    )
    assert not (tmp_path / "results").exists()


def test_a_script_without_a_main_guard_says_so_once_and_nothing_else(tmp_path: Path) -> None:
    code, stderr = _run(tmp_path, NO_GUARD)
    assert code == 2
    last = stderr.splitlines()[-1]
    assert last == (
        "main.py: error: main.py calls splitter.main (or run_jobs) outside `if __name__ =="
        ' "__main__":`, so every worker process started the whole command again; put that'
        " call, and the work before it, under the guard"
    )
    assert "in use by another run" not in stderr and "Traceback" not in stderr
    assert stderr.count("machine all:") == 1  # no worker got as far as the command


def test_a_job_that_returns_what_cannot_be_stored_is_echoed_like_one_that_raises(
    tmp_path: Path,
) -> None:
    code, stderr = _run(tmp_path, UNSTORABLE)
    assert code == 1
    failed = sorted(line for line in stderr.splitlines() if line.startswith("error: job "))
    assert [line.split(":")[1] for line in failed] == [f" job {n} failed" for n in (1, 2, 3, 4)]
    assert "error: job 2 failed: the job's result cannot be sent from its worker" in stderr
    assert "error: job 4 failed: ValueError: bad four" in stderr


def _module_with(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"{name}.py", "exec"), module.__dict__)
    sys.modules[name] = module
    return module


def test_a_job_of_another_module_and_an_object_without_a_name_pass() -> None:
    module = _module_with("def job(x):\n    return x\n", "m3")
    check_not_under_main_guard(module.job)
    check_not_under_main_guard(print)


def test_a_worker_importing_an_unguarded_script_leaves_quietly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    leave_if_a_worker_imports_main()  # here __mp_main__ is __main__: nothing happens
    monkeypatch.setitem(sys.modules, "__mp_main__", types.ModuleType("__mp_main__"))
    with pytest.raises(SystemExit) as leaving:
        leave_if_a_worker_imports_main()
    assert leaving.value.code == UNGUARDED_EXIT


def test_workers_failing_to_start_for_another_reason_keep_the_general_advice() -> None:
    assert "exit right after starting (exit code 1)" in start_failure(1)
