"""Makespan over ideal with declared, calibrated and suggested weights: simulated, then real.

The simulation needs no hosts: 3 to 8 hosts whose true per-thread speed is
the declared perf off by up to +-40%, job durations lognormal (sigma 1, a
heavy tail), the pool split as splitter splits it (a seeded shuffle cut in
proportion to the weights) and each host running its share on its cores,
longest-waiting worker first. Ideal is the makespan of the same split
weighted by the true speeds: the best a static split of that pool can do.
Weights: (a) as declared; (b) calibrate's procedure: every host runs the
first 16 jobs of the plan order in whole rounds, on one worker and then on
all for --seconds/2 each, perf = the rate with all workers busy (with 3%
timing noise), for the default 20 and for 120 (a job takes 1.6 on average,
so one worker runs 16 jobs in about 26); beside it, (b') what calibrate did
before: as many jobs of the plan order as fit in the seconds, so a faster
host times other jobs than a slower one; (c) suggested-machines.json after
one campaign with the declared weights (jobs / wall per host), used on the
next campaign (a new pool).

The real measurement runs two "hosts" on this machine, one worker each, the
second slowed 2x by $BENCH_SLOW: declared equal, then calibrated
(`calibrate --update` on each), then with the suggested file of the first.
"""

from __future__ import annotations

import heapq
import json
import math
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRIALS = 200
JOBS = 4000
BUDGETS = (20.0, 120.0)  # calibrate's --seconds, in the jobs' unit
SAMPLE = 16  # calibrate's default --sample
HERE = Path(__file__).parent / "entries"


def _host_time(durations: list[float], speed: float, cores: int) -> float:
    """Wall time of a share on `cores` workers of `speed`: each job to the first free worker."""
    free = [0.0] * cores
    for duration in durations:
        heapq.heapreplace(free, free[0] + duration / speed)
    return max(free)


def _split(order: list[float], weights: list[float]) -> list[list[float]]:
    """Contiguous shares of the shuffled pool in proportion to the weights (largest remainder)."""
    total = sum(weights)
    quotas = [len(order) * w / total for w in weights]
    counts = [math.floor(q) for q in quotas]
    by_remainder = sorted(range(len(weights)), key=lambda i: counts[i] - quotas[i])
    for i in by_remainder[: len(order) - sum(counts)]:
        counts[i] += 1
    shares, start = [], 0
    for count in counts:
        shares.append(order[start : start + count])
        start += count
    return shares


def _campaign(order: list[float], weights: list[float], speeds: list[float], cores: list[int]):
    shares = _split(order, weights)
    walls = [_host_time(s, v, c) for s, v, c in zip(shares, speeds, cores, strict=True)]
    return max(walls), [len(s) / w if w > 0 else 0.0 for s, w in zip(shares, walls, strict=True)]


def _calibrated(
    order: list[float], speed: float, cores: int, budget: float, rng: random.Random
) -> tuple[float, float]:
    """calibrate's perf and wall time: whole rounds of the sample, perf from all workers.

    With one worker, one phase of the whole budget; else one worker for half of
    it (its rate is only printed), then all workers for the other half.
    """
    sample = order[:SAMPLE]
    phases = [(1, budget)] if cores == 1 else [(1, budget / 2), (cores, budget / 2)]
    wall, rate = 0.0, 0.0
    for workers, seconds in phases:
        jobs, busy = 0, 0.0
        while busy < workers * seconds or jobs == 0:
            busy += sum(d / speed * rng.lognormvariate(0.0, 0.03) for d in sample)
            jobs += len(sample)
        wall, rate = wall + busy / workers, jobs / busy
    return rate, wall


def _time_boxed(
    order: list[float], speed: float, cores: int, budget: float, rng: random.Random
) -> float:
    """The earlier procedure: as many plan-order jobs as fit, pooled over both phases."""
    jobs, busy = 0, 0.0
    for workers in (1, cores):
        ran, spent = 0, 0.0
        for duration in order:
            spent += duration / speed * rng.lognormvariate(0.0, 0.03)
            ran += 1
            if spent >= workers * budget / 2:
                break
        jobs, busy = jobs + ran, busy + spent
    return jobs / busy


def _trial(rng: random.Random) -> tuple[float, ...]:
    hosts = rng.randint(3, 8)
    perf = [rng.uniform(0.5, 2.0) for _ in range(hosts)]
    cores = [rng.choice((1, 2, 4, 8, 16)) for _ in range(hosts)]
    speeds = [p * rng.uniform(0.6, 1.4) for p in perf]
    order = [rng.lognormvariate(0.0, 1.0) for _ in range(JOBS)]
    true = [v * c for v, c in zip(speeds, cores, strict=True)]
    ideal, _ = _campaign(order, true, speeds, cores)
    declared, observed = _campaign(order, [p * c for p, c in zip(perf, cores, strict=True)],
                                   speeds, cores)  # fmt: skip
    calibrated, walls = [], []
    for budget in BUDGETS:
        found = [_calibrated(order, v, c, budget, rng) for v, c in zip(speeds, cores, strict=True)]
        weights = [rate * c for (rate, _), c in zip(found, cores, strict=True)]
        calibrated.append(_campaign(order, weights, speeds, cores)[0] / ideal)
        walls.append(statistics.mean(wall for _, wall in found) / budget)
    boxed = [_time_boxed(order, v, c, BUDGETS[0], rng) for v, c in zip(speeds, cores, strict=True)]
    boxed_weights = [rate * c for rate, c in zip(boxed, cores, strict=True)]
    calibrated.append(_campaign(order, boxed_weights, speeds, cores)[0] / ideal)
    # The next campaign: a new pool (a new shuffle), weighted by the observed rates.
    nxt = [rng.lognormvariate(0.0, 1.0) for _ in range(JOBS)]
    next_ideal, _ = _campaign(nxt, true, speeds, cores)
    suggested, _ = _campaign(nxt, observed, speeds, cores)
    return declared / ideal, *calibrated, suggested / next_ideal, *walls


def simulate() -> None:
    """Print mean and 90th percentile of makespan / ideal for the kinds of weights."""
    rng = random.Random(20261201)
    results = list(zip(*(_trial(rng) for _ in range(TRIALS)), strict=True))
    print(f"simulation: {TRIALS} campaigns of {JOBS} lognormal jobs on 3-8 hosts, true speed"
          " = declared x U(0.6, 1.4); makespan / ideal (goal for b and c: <= 1.05)")  # fmt: skip
    names = (
        "(a) declared perf",
        *(f"(b) calibrate {budget:g}s" for budget in BUDGETS),
        f"(b') time-boxed {BUDGETS[0]:g}s",
        "(c) suggested file",
    )
    walls = results[len(names) :]
    for name, ratios in zip(names, results, strict=False):
        p90 = statistics.quantiles(ratios, n=10)[-1]
        print(f"  {name:<20} mean {statistics.mean(ratios):5.3f}x   p90 {p90:5.3f}x")
    for budget, ratios in zip(BUDGETS, walls, strict=True):
        print(f"  calibrate {budget:g}s took {statistics.mean(ratios):.2f}x its seconds on average"
              " (whole rounds: at least one per phase)")  # fmt: skip


def _entry(work: Path, *args: str, slow: str = "1") -> subprocess.Popen[bytes]:
    env = {"BENCH_SLOW": slow, "PATH": "/usr/bin:/bin"}
    argv = [sys.executable, str(HERE / "slowed_main.py"), "160", *args]
    return subprocess.Popen(argv, cwd=work, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip


def _two_hosts(work: Path, out: str) -> float:
    """Run both hosts at once, one worker each; the makespan of the two."""
    began = time.perf_counter()
    hosts = [_entry(work, "run", "--machine", name, "--yes", "--workers", "1", "--out", out,
                    slow=slow) for name, slow in (("fast", "1"), ("slow", "2"))]  # fmt: skip
    for host in hosts:
        host.wait()
    return time.perf_counter() - began


def _merge(work: Path, out: str) -> dict[str, object]:
    merged = _entry(work, "merge", f"{out}/fast", f"{out}/slow", "--out", f"{out}-M")
    merged.wait()
    report: dict[str, object] = json.loads((work / f"{out}-M" / "report.json").read_text())
    return report


def measure() -> None:
    """Two hosts on this machine, one slowed 2x: declared, calibrated, suggested."""
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "configs").mkdir()
        machines = work / "configs" / "machines.json"
        machines.write_text('{"fast": [1.0, 1], "slow": [1.0, 1]}')
        (work / "configs" / "splitter.ini").write_text("[job]\nsleep = 0.05\n")
        declared = _two_hosts(work, "declared")
        report = _merge(work, "declared")
        balanced = float(str(report["makespan_observed_seconds"]))
        for name, slow in (("fast", "1"), ("slow", "2")):
            _entry(work, "calibrate", "--machine", name, "--seconds", "3", "--workers", "1",
                   "--update", slow=slow).wait()  # fmt: skip
        calibrated_weights = machines.read_text()
        calibrated = _two_hosts(work, "calibrated")
        shutil.copy(work / "declared-M" / "suggested-machines.json", machines)
        suggested = _two_hosts(work, "suggested")
    print(
        "real: two hosts on this machine, 1 worker each, 160 jobs of 50 ms, 'slow' at half speed"
    )
    print(f"  calibrated machines.json: {' '.join(calibrated_weights.split())}")
    print(f"  balanced (merge's makespan with the observed rates): {balanced:5.2f}s")
    for name, seconds in (("(a) declared equal", declared), ("(b) calibrate --update", calibrated),
                          ("(c) suggested file", suggested)):  # fmt: skip
        print(f"  {name:<24} makespan {seconds:5.2f}s  {seconds / balanced:5.2f}x balanced")


def main() -> None:
    """The simulation, then the real measurement."""
    simulate()
    measure()


if __name__ == "__main__":
    main()
