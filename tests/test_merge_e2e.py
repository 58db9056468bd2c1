"""End-to-end: three hosts run a campaign in subprocesses, then `merge` and `status` read them."""

from __future__ import annotations

import json
import os
import shutil
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
    again = entry(campaign, "merge", "out/alpha", "out/beta", "--out", "lost", "--partial")
    assert again.returncode == 0, again.stderr  # the same folders: redone in place
    other = entry(campaign, "merge", "out/alpha", "--out", "lost", "--partial")
    assert other.returncode == 2  # the merged files of another merge exist: --force
    forced = entry(campaign, "merge", "out/alpha", "--out", "lost", "--partial", "--force")
    assert forced.returncode == 0, forced.stderr


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


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_merge_never_writes_into_a_host_folder_with_or_without_force_or_plain(
    tmp_path: Path,
) -> None:
    from test_run_e2e import run, write_campaign

    write_campaign(tmp_path)
    for machine in ("alpha", "beta"):
        assert run(tmp_path, "--machine", machine).returncode == 0
    results = tmp_path / "results"
    lost = entry(tmp_path, "merge", "results/alpha", "results/beta", "--out", "merged")
    assert lost.returncode == 4, lost.stderr
    assert run(tmp_path, "--machine", "alpha", "--rescue", "merged").returncode == 0
    (rescue,) = results.glob("alpha.rescue-*")
    (tmp_path / "link").symlink_to(results / "beta")
    shutil.copytree(results / "beta", tmp_path / "copy-of-beta")
    before = {p: _snapshot(p) for p in [*results.iterdir(), tmp_path / "copy-of-beta"]}
    one_of_them = "is one of the host folders; choose another folder"
    holds_a_run = (
        "holds a run's manifest.json: it is a host folder, whose results merge must never"
        " replace, with or without --force; choose another --out"
    )
    outs = {
        "results/alpha": one_of_them,  # one of the inputs
        "results/beta/": one_of_them,  # the same, spelled otherwise
        "link": one_of_them,  # a symlink to one
        "copy-of-beta": holds_a_run,  # a host folder under another name, not an input
        str(rescue.relative_to(tmp_path)): holds_a_run,  # a rescue's folder
        "results/gamma/../beta": one_of_them,
    }
    for out, problem in outs.items():
        for flags in ([], ["--force"], ["--plain"], ["--force", "--plain"]):
            done = entry(tmp_path, "merge", "results/alpha", "results/beta", "--out", out, *flags)
            assert done.returncode == 2, (out, flags, done.stderr)
            assert done.stderr.strip().splitlines() == [
                f"campaign_main.py: error: --out {Path(out)} {problem}"
            ], (out, flags)
    assert {p: _snapshot(p) for p in before} == before
    (tmp_path / "copy-of-beta" / "manifest.json").unlink()  # lost, but still beta's folder
    done = entry(tmp_path, "merge", "results/alpha", "--out", "copy-of-beta", "--force")
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "--out copy-of-beta holds a run's run.lock: it is a host folder, whose results merge"
            " must never replace, with or without --force; choose another --out"
        )
    )
