"""Makespan of a mixed campaign with needs against its lower bound, and declared one core each.

    python bench/bench_needs.py

One machine declared far larger than this one (16 cores, 2 GPUs: the jobs
sleep, so two real cores host it) runs `bench/entries/needs_main.py`: 120
one-core jobs of 0.5 s, 16 four-core, 16 one-GPU and 4 two-GPU jobs of 1 s.
The lower bound is max(resource-seconds / capacity for cores and GPUs, the
longest job); the goal is a makespan within 1.1x of it (the median of
ROUNDS runs is shown). The same campaign with every job declared one core
(as before needs) ends sooner, by running more at once than the machine
has: the table shows the most cores and GPUs its jobs would have held at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "entries"))

from needs_main import KINDS, pool

from splitter.store.results import ResultsReader

ENTRY = Path(__file__).parent / "entries" / "needs_main.py"
CORES, GPUS = 16, 2
MACHINES = {"big": {"perf": 1.0, "cores": CORES, "gpus": GPUS}}
CONFIG = "[logging]\nlevel = INFO\n[run]\nnice = 0\n"
GOAL = 1.1
ROUNDS = 3


def _need(kind: str, name: str) -> int:
    needs = KINDS[kind][2]
    return int(needs.get(name, 1 if name == "cores" else 0))


def lower_bound() -> tuple[float, float, float, float]:
    """(bound, cores' seconds per core, GPUs' seconds per GPU, the longest job)."""
    jobs = [(kind, seconds) for _, kind, seconds in pool()]
    cores = sum(seconds * _need(kind, "cores") for kind, seconds in jobs) / CORES
    gpus = sum(seconds * _need(kind, "gpus") for kind, seconds in jobs) / GPUS
    longest = max(seconds for _, seconds in jobs)
    return max(cores, gpus, longest), cores, gpus, longest


def _run(work: Path, declared: str) -> list[tuple[float, float, str]]:
    out = work / f"{declared}-{time.monotonic_ns()}"
    subprocess.run(
        [sys.executable, str(ENTRY), declared, "run", "--machine", "big", "--yes",
         "--configs", str(work / "configs"), "--out", str(out)],
        cwd=work, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    reader = ResultsReader(out / "big" / "results.csv.zst")
    header = reader.header
    at = {name: header.index(name) for name in ("start_time", "duration", "kind")}
    return [
        (float(row[at["start_time"]]), float(row[at["duration"]]), row[at["kind"]])
        for row in reader
    ]


def _makespan(jobs: list[tuple[float, float, str]]) -> float:
    """From the first job's start to the last job's end."""
    return max(start + duration for start, duration, _ in jobs) - min(s for s, _, _ in jobs)


def _most_at_once(jobs: list[tuple[float, float, str]], name: str) -> int:
    """The most of count ``name`` the jobs' real needs add up to while they run."""
    events = sorted(
        [(start, _need(kind, name)) for start, _, kind in jobs]
        + [(start + duration, -_need(kind, name)) for start, duration, kind in jobs],
        key=lambda event: (event[0], event[1]),
    )
    held = most = 0
    for _, change in events:
        held += change
        most = max(most, held)
    return most


def main() -> None:
    bound, cores, gpus, longest = lower_bound()
    counts = ", ".join(
        f"{count} {kind} of {seconds:g} s" for kind, (count, seconds, _) in KINDS.items()
    )
    print(f"campaign: {counts}; machine declared {CORES} cores and {GPUS} GPUs")
    print(
        f"lower bound {bound:.2f} s (cores {cores:.2f} s, GPUs {gpus:.2f} s, longest job "
        f"{longest:.2f} s); goal: with needs within {GOAL}x of it"
    )
    print(
        f"{'declared':<14} {'makespan':>9} {'vs bound':>9} {'cores at once':>14} "
        f"{'GPUs at once':>13}"
    )
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "configs").mkdir()
        (work / "configs" / "machines.json").write_text(json.dumps(MACHINES))
        (work / "configs" / "splitter.ini").write_text(CONFIG)
        for declared, label in (("NEEDS", "with needs"), ("ONE-CORE", "one core each")):
            runs = sorted(
                (_makespan(jobs), jobs) for jobs in (_run(work, declared) for _ in range(ROUNDS))
            )
            makespan, jobs = runs[len(runs) // 2]
            print(
                f"{label:<14} {makespan:>8.2f}s {makespan / bound:>8.2f}x "
                f"{_most_at_once(jobs, 'cores'):>9} of {CORES:<2} "
                f"{_most_at_once(jobs, 'gpus'):>8} of {GPUS}"
            )


if __name__ == "__main__":
    main()
