"""Whole-process wall time of `run --all` against a bare multiprocessing.Pool, side by side.

Each round runs both on the same jobs, one after the other, so the ratio
compares like with like on a noisy machine; the medians are printed. Also
splitter's steady-state rate (jobs/s between its first and last job) and its
start-up (process start to its first job running), read from its results.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from splitter.store.results import ResultsReader

HERE = Path(__file__).parent / "entries"
ROUNDS = 3
CASES = (("noop", 2), ("noop", 200_000), ("1ms", 4_000))
"""2 no-op jobs: the fixed start-up alone (interpreter, imports, plan, files, workers)."""
IMPORTS = {
    "python -c pass": "pass",
    "import numpy": "import numpy",
    "import splitter (what a worker imports first)": "import splitter",
    "the run command's modules": (
        "import splitter.cli, splitter.run.command, splitter.run.runner,"
        " splitter.run.local.supervisor"
    ),
    "a worker's modules": "import splitter.run.local.worker",
}
CONFIG = "[logging]\nlevel = INFO\n[run]\nnice = 0\n"


def _timed(argv: list[str], cwd: Path) -> float:
    began = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - began


def _splitter_run(workload: str, size: int, work: Path) -> tuple[float, float, float]:
    out = work / f"out-{time.monotonic_ns()}"
    launched = time.time()
    argv = [sys.executable, str(HERE / "splitter_main.py"), workload, str(size)]
    seconds = _timed([*argv, "run", "--all", "--yes", "--workers", "2", "--out", str(out)], work)
    starts, ends = [], []
    for row in ResultsReader(out / "all" / "results.csv.zst"):
        start, duration = float(row[3]), float(row[4])
        starts.append(start)
        ends.append(start + duration)
    first, last = min(starts), max(ends)
    return seconds, size / (last - first), first - launched


def _case(workload: str, size: int, work: Path) -> None:
    bare, ours, rates, startups = [], [], [], []
    for _ in range(ROUNDS):
        baseline = [sys.executable, str(HERE / "bare_pool.py"), workload, str(size)]
        bare.append(_timed(baseline, work))
        seconds, rate, startup = _splitter_run(workload, size, work)
        ours.append(seconds)
        rates.append(rate)
        startups.append(startup)
    b, o = statistics.median(bare), statistics.median(ours)
    rate, startup = statistics.median(rates), statistics.median(startups)
    if size < 1000:  # the start-up alone: a rate means nothing here
        print(f"{workload:>5} x {size:>7}: bare Pool {b:6.2f} s  splitter {o:6.2f} s  "
              f"ratio {o / b:5.2f}x  start-up {startup:.2f} s")  # fmt: skip
        return
    print(
        f"{workload:>5} x {size:>7}: bare Pool {b:6.2f} s ({size / b:9,.0f} jobs/s)  "
        f"splitter {o:6.2f} s ({size / o:9,.0f} jobs/s)  ratio {o / b:5.2f}x  "
        f"steady {rate:9,.0f} jobs/s  start-up {startup:.2f} s"
    )


def _imports() -> None:
    """How long a fresh interpreter takes to import each part, median of ROUNDS x 3."""
    print(f"start-up of a fresh interpreter, median of {ROUNDS * 3}:")
    for label, code in IMPORTS.items():
        seconds = [_timed([sys.executable, "-c", code], Path.cwd()) for _ in range(ROUNDS * 3)]
        print(f"  {label:<46} {statistics.median(seconds):6.3f} s")


def main() -> None:
    """Print the start-up figures, then the comparison for each workload."""
    _imports()
    print(f"run --all (logs, results, progress on) vs bare Pool(2), median of {ROUNDS} rounds")
    print("goals: no-op within 2x and >= 150,000 jobs/s steady; 1 ms within 1.1x; start-up < 1 s")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "configs").mkdir()
        (work / "configs" / "machines.json").write_text('{"bench": [1.0, 2]}')
        (work / "configs" / "splitter.ini").write_text(CONFIG)
        for workload, size in CASES:
            _case(workload, size, work)


if __name__ == "__main__":
    main()
