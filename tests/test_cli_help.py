"""--help says what a one-file binary leaves out: the commands and options of the extras."""

from __future__ import annotations

import sys

import pytest

from splitter.cli import Program, run_cli

NOTE = "(not in this binary)"


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as leaving:
        run_cli(argv, Program(job=print, pool=[1]))
    assert leaving.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_a_binarys_help_marks_report_dask_and_parquet_as_not_in_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert f"pictures of a merged campaign {NOTE}" in _help(["--help"], capsys)
    run = _help(["run", "--help"], capsys)
    assert f"else $SPLITTER_DASK) {NOTE}" in run and f"(default 3) {NOTE}" in run
    merge = _help(["merge", "--help"], capsys)
    assert f"(needs splitter[report]) {NOTE}" in merge
    assert f"(needs splitter[parquet]) {NOTE}" in merge


def test_under_python_the_help_marks_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert all(NOTE not in _help(argv, capsys) for argv in (["--help"], ["run", "--help"]))
