"""Return values that cannot be stored as they are: error rows that say why; the folder reads."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli, run_module, write_configs
from splitter.store.results import ResultsReader
from splitter.store.rowformat import MAX_ROW_CHARS

ENTRY = f"""\
import multiprocessing

import numpy as np

import splitter


def job(item):
    if item == 1:
        return {{"x": item, "f": lambda: 1}}
    if item == 2:
        return {{"x": item, "big": "b" * 10_000_000}}
    if item == 3:
        return {{"x": item, "a": np.arange(8_000) / 7}}
    if item == 4:
        return {{"x": item, "status": "done", "job_id": "J0"}}
    if item == 5:
        return {{"x": item, "huge": "h" * {MAX_ROW_CHARS}}}
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
    assert rows[5]["error"].startswith("the job's result is 16,777,222 characters as text")
    cells = {**json.loads(rows[2]["extra"] or "{}"), **rows[2]}
    assert cells["big"] == "b" * 10_000_000

    status = run_module(["status", "results/all", "--json"], tmp_path)
    assert status.returncode == 0, status.stderr
    merged = run_module(["merge", "results/all", "--out", "merged"], tmp_path, timeout=120)
    assert merged.returncode == 0, merged.stderr
    report = json.loads((tmp_path / "merged" / "report.json").read_text())
    assert (report["ok"], report["failed_ids"]["error"], report["missing"]) == (5, [1, 4, 5], [])
    resumed = run_cli(["run", "--all", "--yes"], tmp_path, timeout=120)
    assert resumed.returncode == 1, resumed.stderr
    assert len(list(ResultsReader(tmp_path / "results" / "all" / "results.csv.zst"))) == 8
