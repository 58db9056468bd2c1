"""Losing a host: merge reports its jobs missing, the survivors rescue them, merge is whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_run_e2e import ENTRY, rows, run, write_campaign


def merge(tmp_path: Path, out: str, *folders: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "splitter", "merge", *map(str, folders), "--out", out],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def plan_json(tmp_path: Path, *args: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, str(ENTRY), "plan", "--json", "--configs", "configs", *args],
        cwd=tmp_path, capture_output=True, text=True, check=True, env={"CAMPAIGN_SIZE": "24"},
    )  # fmt: skip
    return json.loads(out.stdout)


def _lose_gamma(tmp_path: Path) -> dict[str, object]:
    """alpha and beta run their shares, gamma is lost; merge --partial; its report."""
    write_campaign(tmp_path)
    for machine in ("alpha", "beta"):
        assert run(tmp_path, "--machine", machine).returncode == 0
    partial = merge(
        tmp_path, "merged", tmp_path / "results" / "alpha", tmp_path / "results" / "beta"
    )
    assert partial.returncode == 4
    report: dict[str, object] = json.loads((tmp_path / "merged" / "report.json").read_text())
    return report


def test_the_survivors_rescue_a_lost_host_with_no_file_to_edit(tmp_path: Path) -> None:
    report = _lose_gamma(tmp_path)
    gamma_share = plan_json(tmp_path)["machines"][2]  # type: ignore[index]
    assert len(report["missing"]) == gamma_share["share"] > 0  # type: ignore[arg-type]
    assert report["machines_seen"] == ["alpha", "beta"]

    rescue_plan = plan_json(tmp_path, "--rescue", "merged")
    assert (rescue_plan["planned"], rescue_plan["rescue"]) == (len(report["missing"]), True)  # type: ignore[arg-type]
    assert [m["name"] for m in rescue_plan["machines"]] == ["alpha", "beta"]  # type: ignore[attr-defined]
    for machine in ("alpha", "beta"):
        rescued = run(tmp_path, "--machine", machine, "--rescue", "merged")
        assert rescued.returncode == 0, rescued.stderr
        assert f"over alpha, beta (the machines whose folders merged{os.sep}report.json saw)" in (
            rescued.stderr
        )
    folders = sorted((tmp_path / "results").iterdir())
    assert [f.name.split(".")[0] for f in folders] == ["alpha", "alpha", "beta", "beta"]
    assert all(".rescue-" in f.name for f in folders if f.name not in ("alpha", "beta"))

    whole = merge(tmp_path, "whole", *folders)
    assert whole.returncode == 0, whole.stderr
    assert "24 expected, 24 ok, 0 failed, 0 missing" in whole.stdout
    assert json.loads((tmp_path / "whole" / "report.json").read_text())["missing"] == []

    # Values depend on the run seed only, so one host running everything agrees.
    assert run(tmp_path, "--all", "--out", "single").returncode == 0
    merged = {r["job_id"]: r["draw"] for r in _merged_rows(tmp_path / "whole")}
    single = {r["job_id"]: r["draw"] for r in rows(tmp_path / "single" / "all")}
    assert merged == single


def test_plan_rescue_names_the_survivors_and_machines_overrides_them(tmp_path: Path) -> None:
    _lose_gamma(tmp_path)
    table = subprocess.run(
        [sys.executable, str(ENTRY), "plan", "--configs", "configs", "--rescue", "merged"],
        cwd=tmp_path, capture_output=True, text=True, check=True, env={"CAMPAIGN_SIZE": "24"},
    ).stdout  # fmt: skip
    assert (
        f"rescue  over alpha, beta (the machines whose folders merged{os.sep}report.json saw)"
        in table
    )
    assert "gamma" not in table
    chosen = plan_json(tmp_path, "--rescue", "merged", "--machines", "beta")
    assert [(m["name"], m["share"]) for m in chosen["machines"]] == [("beta", chosen["planned"])]  # type: ignore[attr-defined,index]
    seen = plan_json(tmp_path, "--rescue", "merged")
    assert chosen["digest"] != seen["digest"]


def test_the_lost_host_has_no_share_of_the_rescue(tmp_path: Path) -> None:
    _lose_gamma(tmp_path)
    refused = run(tmp_path, "--machine", "gamma", "--rescue", "merged")
    assert refused.returncode == 2
    assert "machine 'gamma' has no share of this rescue, which runs over alpha, beta" in (
        refused.stderr
    )


def test_machines_names_only_machines_of_machines_json(tmp_path: Path) -> None:
    _lose_gamma(tmp_path)
    refused = run(
        tmp_path, "--machine", "alpha", "--rescue", "merged", "--machines", "alpha,delta"
    )
    assert refused.returncode == 2
    assert "--machines names 'delta', which configs" in refused.stderr
    alone = run(tmp_path, "--machine", "alpha", "--machines", "alpha")
    assert alone.returncode == 2
    assert "pass it with --rescue M" in alone.stderr


def _merged_rows(folder: Path) -> list[dict[str, str]]:
    import csv
    import io

    import zstandard

    with (folder / "results.csv.zst").open("rb") as raw:
        text = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True).read()
    return list(csv.DictReader(io.StringIO(text.decode())))


def test_a_report_from_another_campaign_is_refused(tmp_path: Path) -> None:
    write_campaign(tmp_path, job="steps = 1")
    assert run(tmp_path, "--machine", "alpha").returncode == 0
    assert merge(tmp_path, "merged", tmp_path / "results" / "alpha").returncode == 4
    write_campaign(tmp_path, job="steps = 2")
    refused = run(tmp_path, "--machine", "beta", "--rescue", "merged")
    assert refused.returncode == 3
    assert "comes from another campaign" in refused.stderr


def test_a_hand_edited_report_with_a_bad_job_id_exits_2_naming_it(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    assert run(tmp_path, "--machine", "alpha").returncode == 0
    assert merge(tmp_path, "merged", tmp_path / "results" / "alpha").returncode == 4
    report_path = tmp_path / "merged" / "report.json"
    report = json.loads(report_path.read_text())
    report_path.write_text(json.dumps({**report, "missing": [*report["missing"], 600]}))
    refused = run(tmp_path, "--machine", "beta", "--rescue", "merged")
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
    assert refused.stderr.splitlines()[-1] == (
        "campaign_main.py: error: merged/report.json lists 600 in 'missing', which is not a job"
        " id of this campaign (a whole number from 0 to 23); merge again to rewrite the report"
    )


def _replace_report(report: Path, kind: str) -> str:
    """Put a FIFO, /dev/zero or an 8 GiB sparse file at `report`; what the error says it is."""
    if kind == "fifo":
        os.mkfifo(report)
        return "is a FIFO (named pipe), not a regular file; splitter reads only the files it"
    if kind == "zero":
        report.symlink_to("/dev/zero")
        return "is a device, not a regular file; splitter reads only the files it wrote"
    with report.open("wb") as f:
        f.truncate(8 << 30)
    return "is larger than 256 MiB, more than splitter ever writes there; merge again"


@pytest.mark.parametrize("kind", ["fifo", "zero", "sparse"])
@pytest.mark.parametrize("command", ["plan", "run"])
def test_a_rescue_report_that_is_a_fifo_a_device_or_huge_exits_2_at_once(
    tmp_path: Path, kind: str, command: str
) -> None:
    write_campaign(tmp_path)
    (tmp_path / "merged").mkdir()
    problem = _replace_report(tmp_path / "merged" / "report.json", kind)
    done = subprocess.run(
        [sys.executable, str(ENTRY), command, "--configs", "configs", "--rescue", "merged",
         *(["--yes", "--machine", "alpha"] if command == "run" else [])],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        env={**os.environ, "CAMPAIGN_SIZE": "24"},
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(
        f"campaign_main.py: error: merged{os.sep}report.json {problem}"
    ), done.stderr


def test_a_rescue_report_without_a_digest_is_one_sentence(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    assert run(tmp_path, "--machine", "alpha").returncode == 0
    assert merge(tmp_path, "merged", tmp_path / "results" / "alpha").returncode == 4
    report_path = tmp_path / "merged" / "report.json"
    report = json.loads(report_path.read_text())
    del report["digest"]
    report_path.write_text(json.dumps(report))
    refused = run(tmp_path, "--machine", "beta", "--rescue", "merged")
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1] == (
        f"campaign_main.py: error: merged{os.sep}report.json has no 'digest' of 64 hex digits,"
        " so it names no plan; merge again"
    )


def test_a_rescue_counts_its_share_of_the_rescued_jobs_on_every_line(tmp_path: Path) -> None:
    report = _lose_gamma(tmp_path)
    rescued = run(tmp_path, "--machine", "alpha", "--rescue", "merged")
    assert rescued.returncode == 0, rescued.stderr
    missing = len(report["missing"])  # type: ignore[arg-type]
    lines = rescued.stderr.splitlines()
    chosen = next(line for line in lines if line.startswith("machine alpha: "))
    share = int(chosen.split(": ")[1].split(" of ")[0])
    assert chosen.startswith(f"machine alpha: {share} of {missing} jobs, digest ")
    assert any(f": share {share} of {missing} jobs, " in line for line in lines), lines


def test_a_rescue_while_a_merged_host_still_runs_is_refused_unless_forced(tmp_path: Path) -> None:
    write_campaign(tmp_path, job="sleep = 0.05")
    assert run(tmp_path, "--machine", "alpha").returncode == 0
    beta = subprocess.Popen(
        [sys.executable, str(ENTRY), "run", "--yes", "--configs", "configs", "--machine",
         "beta", "--workers", "1"],
        cwd=tmp_path, env={**os.environ, "CAMPAIGN_SIZE": "24", "CAMPAIGN_SLOW": "200"},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        manifest = tmp_path / "results" / "beta" / "manifest.json"
        deadline = time.monotonic() + 60
        while not (manifest.exists() and json.loads(manifest.read_text())["state"] == "running"):
            assert beta.poll() is None and time.monotonic() < deadline, "beta did not start"
            time.sleep(0.05)
        merged = merge(tmp_path, "merged", tmp_path / "results" / "alpha", manifest.parent)
        assert merged.returncode == 4, merged.stderr
        assert "is still running" in merged.stderr

        refused = run(tmp_path, "--machine", "alpha", "--rescue", "merged")
        assert refused.returncode == 3, refused.stderr
        assert refused.stderr.strip().splitlines()[-1] == (
            f"campaign_main.py: error: {Path('merged') / 'report.json'} says beta was still"
            " running when merged, so the jobs it lists as missing may be done there yet, and a"
            " rescue would run them twice; merge again once it has finished or stopped, or pass"
            " --force to rescue anyway"
        )
        assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["alpha", "beta"]
        planned = subprocess.run(
            [sys.executable, str(ENTRY), "plan", "--configs", "configs", "--rescue", "merged"],
            cwd=tmp_path, capture_output=True, text=True, env={"CAMPAIGN_SIZE": "24"},
        )  # fmt: skip
        assert planned.returncode == 3, planned.stderr
        assert plan_json(tmp_path, "--rescue", "merged", "--force")["rescue"] is True
        forced = run(tmp_path, "--machine", "alpha", "--rescue", "merged", "--force")
        assert forced.returncode == 0, forced.stderr
    finally:
        beta.terminate()
        beta.wait(timeout=60)


def test_force_without_rescue_is_refused(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    refused = run(tmp_path, "--machine", "alpha", "--force")
    assert refused.returncode == 2
    assert "--force lets a rescue start while a host runs; pass it with --rescue M" in (
        refused.stderr
    )
