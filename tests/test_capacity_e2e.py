"""End to end: a deliberately slowed host shows up as slower in calibrate and in merge."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ENTRY = Path(__file__).parent / "entries" / "campaign_main.py"
SLOW = "3"  # beta's jobs sleep three times as long


def campaign(tmp_path: Path, machines: dict[str, list[float]], sleep: float = 0.02) -> Path:
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "machines.json").write_text(json.dumps(machines))
    # nice 0: on a busy test machine niced workers would wait more than they sleep.
    (configs / "splitter.ini").write_text(f"[job]\nsleep = {sleep}\n[run]\nnice = 0\n")
    return configs


def entry(tmp_path: Path, *args: str, slow: str = "1", size: int = 40, configs: bool = True):
    environment = {k: v for k, v in os.environ.items() if k != "SPLITTER_MACHINE"}
    environment.update({"CAMPAIGN_SIZE": str(size), "CAMPAIGN_SLOW": slow})
    return subprocess.run(
        [sys.executable, str(ENTRY), *args, *(["--configs", "configs"] if configs else [])],
        cwd=tmp_path, env=environment, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_calibrate_measures_the_slowed_host_slower_and_updates_only_its_entry(
    tmp_path: Path,
) -> None:
    machines = {"alpha": [1.0, 1], "beta": [1.0, 1], "gamma": [2.0, 1]}
    configs = campaign(tmp_path, machines, sleep=0.2)
    for machine, slow in (("alpha", "1"), ("beta", SLOW)):
        done = entry(tmp_path, "calibrate", "--machine", machine, "--seconds", "2", "--sample",
                     "4", "--workers", "1", "--update", slow=slow)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "copy this file to every host" in done.stdout
    machines = json.loads((configs / "machines.json").read_text())
    assert list(machines) == ["alpha", "beta", "gamma"]
    assert machines["gamma"] == [2.0, 1]
    alpha, beta = machines["alpha"][0], machines["beta"][0]
    assert beta < alpha / 1.5, (alpha, beta)
    saved = json.loads((tmp_path / "results" / "beta" / "calibration.json").read_text())
    assert saved["entry"] == machines["beta"] and machines["beta"][1] == 1  # --workers 1
    assert sorted(p.name for p in (tmp_path / "results" / "beta").iterdir()) == [
        "calibration.json"
    ]


def test_a_run_starts_in_a_folder_holding_only_a_calibration(tmp_path: Path) -> None:
    campaign(tmp_path, {"alpha": [1.0, 1]})
    calibrated = entry(tmp_path, "calibrate", "--machine", "alpha", "--seconds", "0.2", size=4)
    assert calibrated.returncode == 0, calibrated.stderr
    ran = entry(tmp_path, "run", "--machine", "alpha", "--yes", size=4)
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "results" / "alpha" / "calibration.json").exists()


def test_merge_reports_the_slowed_host_late_and_the_suggestion_corrects_its_weight(
    tmp_path: Path,
) -> None:
    # Jobs long enough that the start-up of a run (a second or so) is not most of it.
    campaign(tmp_path, {"alpha": [1.0, 1], "beta": [1.0, 1]}, sleep=0.1)
    for machine, slow in (("alpha", "1"), ("beta", "4")):
        done = entry(tmp_path, "run", "--machine", machine, "--yes", "--out", "out", slow=slow)
        assert done.returncode == 0, done.stderr
    beta = json.loads((tmp_path / "out" / "beta" / "manifest.json").read_text())
    assert (beta["perf"], beta["cores"], beta["jobs_done"]) == (1.0, 1, 20)
    assert beta["busy_seconds"] > 20 * 0.1 * 4
    merged = entry(tmp_path, "merge", "out/alpha", "out/beta", "--out", "M", configs=False)
    assert merged.returncode == 0, merged.stderr
    report = json.loads((tmp_path / "M" / "report.json").read_text())
    capacity = report["capacity"]
    assert capacity["beta"]["observed_jobs_per_s"] < capacity["alpha"]["observed_jobs_per_s"]
    assert capacity["alpha"]["late_seconds"] == 0.0 and capacity["beta"]["late_seconds"] > 0
    assert report["makespan_observed_seconds"] < report["makespan_seconds"]
    suggested = json.loads((tmp_path / "M" / "suggested-machines.json").read_text())
    assert suggested["beta"][0] < suggested["alpha"][0] / 1.5, suggested
    assert "  beta: declared perf x cores 1, observed " in merged.stdout
    assert json.loads((tmp_path / "configs" / "machines.json").read_text())["beta"] == [1.0, 1]
