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
