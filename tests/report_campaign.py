"""A small merged campaign for the report's tests: two hosts, failures on purpose."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ENTRY = Path(__file__).parent / "entries" / "campaign_main.py"
MACHINES = {"alpha": [1.0, 2], "beta": [1.5, 2]}
SIZE = 30
FAILING = (3, 11, 17)  # [job] fail: they raise ValueError


def merged_campaign(root: Path, *merge_options: str) -> subprocess.CompletedProcess[str]:
    """Run both hosts' shares of the campaign in `root`, then merge them into root/merged."""
    (root / "configs").mkdir(parents=True)
    (root / "configs" / "machines.json").write_text(json.dumps(MACHINES))
    failing = ",".join(map(str, FAILING))
    (root / "configs" / "splitter.ini").write_text(f"[job]\nfail = {failing}\nsleep = 0.02\n")
    environment = {k: v for k, v in os.environ.items() if k != "SPLITTER_MACHINE"}
    environment["CAMPAIGN_SIZE"] = str(SIZE)
    common = [sys.executable, str(ENTRY), "run", "--yes", "--configs", "configs", "--out", "out"]
    for machine in MACHINES:
        subprocess.run(
            [*common, "--machine", machine], cwd=root, env=environment,
            stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
        )  # fmt: skip
    return subprocess.run(
        [sys.executable, str(ENTRY), "merge", "out/alpha", "out/beta", "--out", "merged",
         *merge_options],
        cwd=root, env=environment, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


LOST = {"alpha": [1.0, 2], "beta": [1.5, 2], "gamma": [1.0, 2]}  # gamma is lost


def lost_and_rescued(root: Path) -> subprocess.CompletedProcess[str]:
    """A campaign's whole story in `root`: gamma is lost, alpha is resumed and paused once,
    a partial merge (root/merged) lists gamma's jobs, alpha and beta rescue them, and
    root/whole merges every folder with --report."""
    (root / "configs").mkdir(parents=True)
    (root / "configs" / "machines.json").write_text(json.dumps(LOST))
    failing = ",".join(map(str, FAILING))
    (root / "configs" / "splitter.ini").write_text(f"[job]\nfail = {failing}\nsleep = 0.02\n")
    environment = {k: v for k, v in os.environ.items() if k != "SPLITTER_MACHINE"}
    environment["CAMPAIGN_SIZE"] = str(SIZE)

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args], cwd=root, env=environment, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    common = [str(ENTRY), "run", "--yes", "--configs", "configs", "--out", "out"]
    for machine in ("alpha", "beta"):
        call(*common, "--machine", machine)
    call(*common, "--machine", "alpha", "--retry-failed")  # alpha resumed: its failures again
    _pause(root / "out" / "alpha" / "manifest.json")
    call(str(ENTRY), "merge", "out/alpha", "out/beta", "--out", "merged", "--partial")
    _owners(root / "merged" / "report.json", "gamma")
    for machine in ("alpha", "beta"):
        call(*common, "--machine", machine, "--rescue", "merged")
    folders = sorted(str(path.relative_to(root)) for path in (root / "out").iterdir())
    return call(str(ENTRY), "merge", *folders, "--out", "whole", "--report")


def _pause(manifest: Path) -> None:
    """What the pause feature writes: an interval in the first run, with its reason."""
    data = json.loads(manifest.read_text())
    first = data["runs"][0]
    middle = (first["started"] + first["ended"]) / 2
    data["paused_intervals"] = [[middle - 0.05, middle + 0.05, "owner at the keyboard"]]
    manifest.write_text(json.dumps(data))


def _owners(report: Path, lost: str) -> None:
    """The partial merge's missing_by_machine, as merge will write it: all of `lost`'s."""
    data = json.loads(report.read_text())
    data.setdefault("missing_by_machine", {lost: data["missing"]})
    report.write_text(json.dumps(data))
