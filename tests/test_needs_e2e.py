"""End-to-end: ``needs=`` reaches the command line and the library, and bad needs stop both."""

from __future__ import annotations

from pathlib import Path

import pytest

import splitter
from conftest import run_cli, write_configs
from splitter.errors import UsageError

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
    write_campaign(tmp_path, '{"cores": 1, "tags": ["any"]}')
    result = run_cli(["digest"], tmp_path)
    assert (result.returncode, result.stderr) == (0, "")


def test_run_jobs_refuses_bad_needs_before_running(tmp_path: Path) -> None:
    write_configs(tmp_path / "configs")
    with pytest.raises(UsageError, match=r"^the needs function returned list for job 0"):
        splitter.run_jobs(
            abs, range(3), configs=tmp_path / "configs", out=tmp_path / "out",
            needs=lambda item: [item],
        )  # fmt: skip
    assert not (tmp_path / "out").exists()
