"""End-to-end: three hosts run a campaign in subprocesses, then `merge` and `status` read them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import run_module
from splitter.merge.combine import merged_rows
from splitter.store.results import ResultsReader

ENTRY = Path(__file__).parent / "entries" / "campaign_main.py"
MACHINES = {"alpha": [1.0, 2], "beta": [1.5, 2], "gamma": [0.5, 2]}
SIZE = 30
HOSTS = ("alpha", "beta", "gamma")


def entry(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "SPLITTER_MACHINE"}
    environment["CAMPAIGN_SIZE"] = str(SIZE)
    return subprocess.run(
        [sys.executable, str(ENTRY), *args], cwd=cwd, env=environment,
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each machine's share in out/<machine>/, and the whole pool run alone in single/all/."""
    root = tmp_path_factory.mktemp("campaign")
    (root / "configs").mkdir()
    (root / "configs" / "machines.json").write_text(json.dumps(MACHINES))
    (root / "configs" / "splitter.ini").write_text("[job]\nfail = 3\ncrash = 5\n")
    environment = {**os.environ, "CAMPAIGN_SIZE": str(SIZE)}
    common = [sys.executable, str(ENTRY), "run", "--yes", "--configs", "configs"]
    runs = [[*common, "--machine", name, "--out", "out", "--workers", "1"] for name in HOSTS]
    runs.append([*common, "--all", "--out", "single", "--workers", "2"])
    started = [
        subprocess.Popen(argv, cwd=root, env=environment, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for argv in runs
    ]  # fmt: skip
    # 1 where the host ran job 3 or 5 (they fail on purpose), else 0.
    assert {process.wait(timeout=120) for process in started} == {0, 1}
    return root


def by_job(
    rows: list[list[str]], header: list[str] | tuple[str, ...]
) -> dict[int, dict[str, str]]:
    return {int(row[0]): dict(zip(header, row, strict=True)) for row in rows}


def job_cells(row: dict[str, str]) -> tuple[str, ...]:
    return tuple(row[name] for name in ("status", "error", "index", "draw", "square"))


def test_merging_three_hosts_equals_a_single_host_run(campaign: Path) -> None:
    done = entry(campaign, "merge", "out/alpha", "out/beta", "out/gamma", "--out", "M")
    assert done.returncode == 0, done.stderr
    summary, capacity, *lines = done.stdout.splitlines()
    assert summary == (
        "merged 3 folders (alpha, beta, gamma): 30 expected, 28 ok,"
        " 2 failed (1 error, 1 crashed), 0 missing; written to M"
    )
    assert capacity == "capacity (the runs of each host, added up):"
    assert [line.split(":")[0] for line in lines[:3]] == ["  alpha", "  beta", "  gamma"]
    header, *rows = merged_rows(campaign / "M" / "results.csv.zst")
    merged = by_job(rows, header)
    single = ResultsReader(campaign / "single" / "all" / "results.csv.zst")
    alone = by_job(list(single), single.header)
    assert list(merged) == list(range(SIZE))
    assert {j: job_cells(row) for j, row in merged.items()} == {
        j: job_cells(row) for j, row in alone.items()
    }
    assert merged[3]["status"] == "error" and merged[5]["status"] == "crashed"
    report = json.loads((campaign / "M" / "report.json").read_text())
    assert report["failed_ids"] == {"error": [3], "crashed": [5], "timeout": []}
    assert sum(m["share"] for m in report["machines"]) == SIZE


def test_the_merged_log_is_in_time_order_and_names_each_machine(campaign: Path) -> None:
    done = run_module(
        ["merge", "out/alpha", "out/beta", "out/gamma", "--out", "P", "--plain"], cwd=campaign
    )
    assert done.returncode == 0, done.stderr
    records = [
        line for line in (campaign / "P" / "log.txt").read_text().splitlines()
        if not line.startswith(" ")
    ]  # fmt: skip
    stamps = [line.split(" ")[0] for line in records]
    assert stamps == sorted(stamps)
    assert {line.split(" ")[1] for line in records} == set(HOSTS)
    for name in HOSTS:
        assert any(line.split(" ")[1] == name and "job" in line for line in records)


def test_a_lost_host_gives_exit_4_listing_exactly_its_jobs(campaign: Path) -> None:
    done = entry(campaign, "merge", "out/alpha", "out/beta", "--out", "lost")
    assert done.returncode == 4, done.stderr
    gamma = sorted(int(row[0]) for row in ResultsReader(campaign / "out/gamma/results.csv.zst"))
    report: dict[str, Any] = json.loads((campaign / "lost" / "report.json").read_text())
    assert report["missing"] == gamma
    assert report["expected"] - report["ok"] - sum(report["failed"].values()) == len(gamma)
    assert "or pass --partial to accept a partial merge" in done.stderr


def test_the_merge_exit_4_advises_then_passes_with_partial_alone(campaign: Path) -> None:
    first = entry(campaign, "merge", "out/alpha", "out/beta", "--out", "partial")
    assert first.returncode == 4, first.stderr
    again = entry(campaign, "merge", "out/alpha", "out/beta", "--out", "partial", "--partial")
    assert again.returncode == 0, again.stderr  # the same folders: it redoes its own merge
    assert again.stderr == ""
    report: dict[str, Any] = json.loads((campaign / "partial" / "report.json").read_text())
    assert report["inputs"] == ["out/alpha", "out/beta"] and report["missing"]
    other = entry(campaign, "merge", "out/alpha", "--out", "partial", "--partial")
    assert other.returncode == 2  # another merge's files: only --force replaces them
    assert "already exists; pass --force" in other.stderr


def test_status_counts_each_finished_host(campaign: Path) -> None:
    done = run_module(["status", "out/alpha", "out/beta", "out/gamma", "--json"], cwd=campaign)
    assert done.returncode == 0, done.stderr
    statuses = json.loads(done.stdout)
    assert [s["machine"] for s in statuses] == list(HOSTS)
    assert sum(s["done"] for s in statuses) == SIZE
    assert all(s["state"] == "finished" and s["remaining"] == 0 for s in statuses)
    assert sum(s["failed"]["error"] + s["failed"]["crashed"] for s in statuses) == 2


def test_merge_out_naming_a_file_exits_2_naming_it(campaign: Path, tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("mine\n")
    done = entry(campaign, "merge", "out/alpha", "out/beta", "out/gamma", "--out", str(target))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"campaign_main.py: error: cannot use {target} (File exists); a file stands where a "
        "folder is needed; pass another --out or move it aside"
    )
    assert target.read_text() == "mine\n"
