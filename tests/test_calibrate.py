"""calibrate's figures: per-thread rate, speed-up, the entry, and calibration.json."""

from __future__ import annotations

import json
from pathlib import Path

from splitter.run.calibrate import Calibration, Phase, save_calibration

# One worker: 40 jobs in 8 s of work. Four workers: 120 jobs in 30 s of work (slower each).
RESULT = Calibration("lab-1", 4, Phase(1, 40, 8.0, 8.5), Phase(4, 120, 30.0, 8.2))


def test_the_per_thread_rate_counts_the_jobs_own_durations() -> None:
    assert (RESULT.one.per_thread_rate, RESULT.all.per_thread_rate) == (5.0, 4.0)


def test_the_perf_pools_the_jobs_and_durations_of_both_phases() -> None:
    assert RESULT.perf == 4.211  # 160 jobs in 38 s of work


def test_the_speed_up_is_all_workers_rate_over_one_workers() -> None:
    assert RESULT.speedup == 3.2


def test_the_printed_lines_end_with_the_machines_json_entry() -> None:
    assert RESULT.lines() == [
        "one worker: 40 sample jobs in 8.00s of work: 5 jobs/s per thread",
        "4 workers: 120 sample jobs, speed-up 3.20x over one worker",
        "cores this process may use: 4",
        'machines.json entry: "lab-1": [4.211, 4]',
    ]


def test_the_perf_keeps_four_significant_digits() -> None:
    odd = Calibration("a", 1, Phase(1, 7, 3.0, 3.0), Phase(1, 7, 3.0, 3.0))
    assert odd.perf == 2.333


def test_the_outcome_is_saved_in_the_machines_folder(tmp_path: Path) -> None:
    path = save_calibration(tmp_path, RESULT)
    assert path == tmp_path / "lab-1" / "calibration.json"
    saved = json.loads(path.read_text())
    assert (saved["entry"], saved["speedup"], saved["per_thread_rate"]) == ([4.211, 4], 3.2, 5.0)
