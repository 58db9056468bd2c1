"""A host folder's runs end to end: the manifest keeps every run, merge counts them all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from test_run_e2e import run, write_campaign


def manifest(tmp_path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(
        (tmp_path / "results" / "alpha" / "manifest.json").read_text()
    )
    return data


def merge_alpha(tmp_path: Path) -> dict[str, object]:
    subprocess.run(
        [sys.executable, "-m", "splitter", "merge", "results/alpha", "--out", "merged",
         "--partial", "--force"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    report: dict[str, object] = json.loads((tmp_path / "merged" / "report.json").read_text())
    return report


def test_the_manifest_keeps_every_run_of_its_folder(tmp_path: Path) -> None:
    write_campaign(tmp_path, job="fail = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11")
    assert run(tmp_path, "--machine", "alpha").returncode == 1
    first = manifest(tmp_path)
    write_campaign(tmp_path, job="fail = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11")
    assert run(tmp_path, "--machine", "alpha", "--retry-failed").returncode == 1
    runs = manifest(tmp_path)["runs"]
    assert isinstance(runs, list) and len(runs) == 2
    assert runs[0] == first["runs"][0]  # type: ignore[index]
    failed = first["counts"]["error"]  # type: ignore[index]
    assert [entry["jobs_done"] for entry in runs] == [first["share"], failed]
    assert runs[0]["ended"] <= runs[1]["started"]
    assert runs[1]["workers"] == manifest(tmp_path)["workers"]


def test_a_rerun_with_nothing_to_do_leaves_the_observed_capacity_as_it_was(
    tmp_path: Path,
) -> None:
    write_campaign(tmp_path)
    assert run(tmp_path, "--machine", "alpha").returncode == 0
    before = merge_alpha(tmp_path)["capacity"]["alpha"]  # type: ignore[index]
    assert run(tmp_path, "--machine", "alpha").returncode == 0  # nothing left to run
    assert [entry["jobs_done"] for entry in manifest(tmp_path)["runs"]][1:] == [0]  # type: ignore[index, union-attr]
    after = merge_alpha(tmp_path)["capacity"]["alpha"]  # type: ignore[index]
    assert after["observed_jobs_per_s"] == before["observed_jobs_per_s"] > 0


def test_report_json_gives_one_wall_time_the_runner_measured(tmp_path: Path) -> None:
    write_campaign(tmp_path, job="sleep = 0.05")
    assert run(tmp_path, "--machine", "alpha").returncode == 0
    report = merge_alpha(tmp_path)
    wall = manifest(tmp_path)["runs"][0]["wall_seconds"]  # type: ignore[index]
    # Not whole seconds from the manifest's started/ended (which said 2.0 for 2.4).
    assert report["machines"][0]["wall_seconds"] == wall  # type: ignore[index]
    assert report["capacity"]["alpha"]["wall_seconds"] == round(wall, 3)  # type: ignore[index]
