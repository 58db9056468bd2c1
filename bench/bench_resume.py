"""Resume a folder of 10^6 finished jobs after the pool grew by 1%: time to the first new job.

Runs the whole pool of 10^6 no-op jobs once (`run --all`), then the pool of
1,010,000 in the same folder: the second run must read the million recorded
keys, reuse them, and start the first of the 10,000 new jobs. Prints the
seconds from the second process's start to that job's start_time (goal: 5 s),
and the whole second run's wall time. Asserts nothing.

    .venv/bin/python bench/bench_resume.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from splitter.store.results import ResultsReader

__all__ = ["main"]

HERE = Path(__file__).parent / "entries"
SIZE = 1_000_000
GROWN = 1_010_000
GOAL_SECONDS = 5.0
CONFIG = "[logging]\nlevel = INFO\n[run]\nnice = 0\n"


def _run(size: int, work: Path) -> tuple[float, float]:
    argv = [sys.executable, str(HERE / "splitter_main.py"), "noop", str(size)]
    argv += ["run", "--all", "--yes", "--workers", "2", "--out", "out"]
    launched = time.time()
    began = time.perf_counter()
    subprocess.run(
        argv, cwd=work, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return launched, time.perf_counter() - began


def _first_new_start(folder: Path, first_new_item: int) -> float:
    reader = ResultsReader(folder / "results.csv.zst")
    items = list(reader.header).index("value")
    return min(float(row[3]) for row in reader if int(row[items]) >= first_new_item)


def main() -> None:
    """Run the two runs in a scratch folder and print the figures."""
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        (work / "configs").mkdir()
        (work / "configs" / "machines.json").write_text('{"here": [1.0, 2]}\n')
        (work / "configs" / "splitter.ini").write_text(CONFIG)
        _, first = _run(SIZE, work)
        launched, second = _run(GROWN, work)
        waited = _first_new_start(work / "out" / "all", SIZE) - launched
        verdict = "ok" if waited < GOAL_SECONDS else "MISSED"
        print(
            f"{SIZE:,} jobs in {first:.1f} s; grown by 1%: first new job after {waited:.2f} s"
            f" (goal < {GOAL_SECONDS:g} s {verdict}), whole resumed run {second:.1f} s"
        )


if __name__ == "__main__":
    main()
