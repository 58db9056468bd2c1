"""write_report as a library call: where it writes, and the edge cases of a merged folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labels import key_of
from splitter.errors import ConfigError
from splitter.report.build import write_report
from splitter.report.sources import MARKER
from splitter.store.frames import FrameWriter

HEADER = b"job_id,machine,status,start_time,duration,error,job_key,input,origin,value\n"
ROW = f"0,alpha,ok,1.0,2.0,,{key_of(0)},,,x\n".encode()
REPORT = {
    "digest": "ab" * 32, "expected": 3, "ok": 0,
    "failed": {"error": 0, "crashed": 0, "timeout": 0}, "missing": [0, 1, 2],
    "machines": [{"machine": "alpha"}], "inputs": ["nowhere/alpha"],
}  # fmt: skip


def merged_folder(folder: Path, rows: bytes, report: dict[str, object] = REPORT) -> Path:
    folder.mkdir()
    with FrameWriter(folder / "results.csv.zst", 1) as frames:
        frames.write_frame(HEADER + rows)
    (folder / "report.json").write_text(json.dumps(report))
    return folder


def test_a_merge_with_no_rows_still_reports_its_missing_jobs(tmp_path: Path) -> None:
    result = write_report(merged_folder(tmp_path / "merged", b""))
    assert (result.path, result.rows, result.warnings) == (
        tmp_path / "merged" / "report.html",
        0,
        (),
    )
    page = result.path.read_text(encoding="utf-8")
    assert '<span class="bad">3 missing</span>' in page
    assert "<p>Missing job ids: 0, 1, 2.</p>" in page
    assert page.count("Nothing to draw: the merged results hold no rows.") == 3


def test_an_unreadable_input_manifest_is_a_warning_in_the_page(tmp_path: Path) -> None:
    host = tmp_path / "alpha"
    host.mkdir()
    (host / "manifest.json").write_text("[1, 2]")
    report = {**REPORT, "inputs": [str(host)]}
    result = write_report(merged_folder(tmp_path / "merged", ROW, report))
    assert result.warnings == (
        f"left out {host}: {host / 'manifest.json'} holds an array, not a JSON object; restore"
        " the manifest.json that `run` wrote there, or rerun `run` on that machine to rewrite it",
    )
    assert result.path.read_text(encoding="utf-8").count("left out ") == 1


OLD_REPORT = f"<!DOCTYPE html>\n<html><head>\n{MARKER}\n</head><body>old</body></html>\n"


def test_the_report_replaces_an_older_one_whole(tmp_path: Path) -> None:
    merged = merged_folder(tmp_path / "merged", ROW)
    (merged / "report.html").write_text(OLD_REPORT)
    write_report(merged, tmp_path / "out" / "r.html")
    assert (merged / "report.html").read_text() == OLD_REPORT
    write_report(merged)
    assert (merged / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(path.name for path in merged.iterdir()) == [
        "report.html", "report.json", "results.csv.zst"
    ]  # fmt: skip


def test_a_report_json_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    merged = merged_folder(tmp_path / "merged", b"", report=[])  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as caught:
        write_report(merged)
    assert str(caught.value) == (
        f"{merged / 'report.json'} holds an array, not a JSON object; merge again with --force"
        " to rewrite it"
    )


def test_many_jobs_are_drawn_as_finished_over_time_lines(tmp_path: Path) -> None:
    rows = "".join(
        f"{job},{'ab'[job % 2]},ok,{job * 0.1},{0.5 + job % 7},,{key_of(job)},,,{job}\n"
        for job in range(2001)
    )
    report = {**REPORT, "expected": 2001, "ok": 2001, "missing": []}
    result = write_report(merged_folder(tmp_path / "merged", rows.encode(), report))
    page = result.path.read_text(encoding="utf-8")
    assert (
        "2,001 jobs are too many to draw one by one (more than 2,000): each line counts a"
        " host&#x27;s jobs finished over time; the runs are listed under The campaign."
    ) in page
    assert page.count("<svg") == 4  # timeline, throughput, durations, the values
