"""Return values that cannot be stored as they are: error rows that say why; the folder reads."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli, run_module, write_configs
from splitter.store.results import ResultsReader
from splitter.store.rowformat import MAX_ROW_BYTES

ENTRY = f"""\
import multiprocessing

import numpy as np

import splitter


def job(item):
    if item == 1:
        return {{"x": item, "f": lambda: 1}}
    if item == 2:
        return {{"x": item, "big": "b" * 2_000_000}}
    if item == 3:
        return {{"x": item, "a": np.arange(8_000) / 7}}
    if item == 4:
        return {{"x": item, "status": "done", "job_id": "J0"}}
    if item == 5:
        return {{"x": item, "huge": "h" * {MAX_ROW_BYTES}}}
    return {{"x": item}}


if __name__ == "__main__":
    multiprocessing.freeze_support()
    splitter.main(job, list(range(8)))
"""


def _rows(folder: Path) -> dict[int, dict[str, str]]:
    reader = ResultsReader(folder / "results.csv.zst")
    return {int(row[0]): dict(zip(reader.header, row, strict=True)) for row in reader}


def test_unstorable_values_are_error_rows_and_status_merge_and_resume_read_the_folder(
    tmp_path: Path,
) -> None:
    write_configs(tmp_path / "configs")
    (tmp_path / "main.py").write_text(ENTRY, encoding="utf-8")
    first = run_cli(["run", "--all", "--yes", "--workers", "2"], tmp_path, timeout=120)
    assert first.returncode == 1, first.stderr
    rows = _rows(tmp_path / "results" / "all")
    statuses = {job_id: row["status"] for job_id, row in rows.items()}
    assert statuses == {0: "ok", 1: "error", 2: "ok", 3: "ok", 4: "error", 5: "error",
                        6: "ok", 7: "ok"}  # fmt: skip
    assert rows[1]["error"].startswith(
        "the job's result cannot be sent from its worker: a function value in it does not pickle"
    )
    assert rows[4]["error"].startswith(
        "the job returned keys named like splitter's own columns (job_id, status); rename them"
    )
    assert rows[5]["error"].startswith("the job's result makes a row of 3,145,8")
    cells = {**json.loads(rows[2]["extra"] or "{}"), **rows[2]}
    assert cells["big"] == "b" * 2_000_000

    status = run_module(["status", "results/all", "--json"], tmp_path)
    assert status.returncode == 0, status.stderr
    merged = run_module(["merge", "results/all", "--out", "merged"], tmp_path, timeout=120)
    assert merged.returncode == 0, merged.stderr
    report = json.loads((tmp_path / "merged" / "report.json").read_text())
    assert (report["ok"], report["failed_ids"]["error"], report["missing"]) == (5, [1, 4, 5], [])
    resumed = run_cli(["run", "--all", "--yes"], tmp_path, timeout=120)
    assert resumed.returncode == 1, resumed.stderr
    assert len(list(ResultsReader(tmp_path / "results" / "all" / "results.csv.zst"))) == 8


TEXTLESS = """\
import multiprocessing
import os

import splitter


class StrRaises:
    def __str__(self):
        raise RuntimeError("no text for you")


def _explode():
    raise RuntimeError("cannot be rebuilt")


class DoesNotUnpickle:
    def __reduce__(self):
        return (_explode, ())


def job(item):
    if os.environ.get("ALL_TOO_LONG") or item in (0, 1):
        return 10**5000
    if item == 2:
        return {"x": StrRaises()}
    if item == 3:
        return {"x": DoesNotUnpickle()}
    if item == 4:
        return {1: "int key", "1": "str key"}
    return {"x": item}


if __name__ == "__main__":
    multiprocessing.freeze_support()
    splitter.main(job, list(range(10)))
"""


def test_values_whose_text_cannot_be_made_are_error_rows_and_the_folder_stays_readable(
    tmp_path: Path,
) -> None:
    write_configs(tmp_path / "configs")
    (tmp_path / "main.py").write_text(TEXTLESS, encoding="utf-8")
    # Every row has no text, the first one included: the file still gets its header.
    first = run_cli(["run", "--all", "--yes", "--workers", "1"], tmp_path, {"ALL_TOO_LONG": "1"})
    assert first.returncode == 1, first.stderr
    assert "Traceback" not in first.stderr
    assert {row["status"] for row in _rows(tmp_path / "results" / "all").values()} == {"error"}
    status = run_module(["status", "results/all"], tmp_path)
    assert status.returncode == 0, status.stderr
    again = run_cli(["run", "--all", "--yes", "--workers", "1", "--retry-failed"], tmp_path)
    assert again.returncode == 1, again.stderr
    latest = _rows(tmp_path / "results" / "all")  # each job's last attempt
    errors = {job: latest[job]["error"] for job in range(5)}
    assert [latest[job]["status"] for job in range(10)] == ["error"] * 5 + ["ok"] * 5
    assert (
        errors[0]
        == errors[1]
        == (
            "the job's result holds an int of more than 4,300 digits, which Python does not turn"
            " into text; return it as a str"
        )
    )
    assert "str() of a StrRaises value in it raised RuntimeError: no text for you" in errors[2]
    assert "does not unpickle" in errors[3] and "cannot be rebuilt" in errors[3]
    assert errors[4] == (
        "the job returned the keys 1 and '1', which both name the column '1';"
        " make the keys distinct"
    )
    merged = run_module(["merge", "results/all", "--out", "merged"], tmp_path)
    assert merged.returncode == 0, merged.stderr
