"""Benchmark the plan work: pool digest, job order and split, per pool size.

Each case runs in a fresh interpreter so its peak memory (ru_maxrss, minus
the peak once the pool is built) is its own. Prints one table row per case
with the goals next to it; it asserts nothing.

    .venv/bin/python bench/bench_plan.py
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

__all__ = ["main"]

# (label, pool kind, size, goal in seconds, goal in MiB or None)
CASES = [
    ("10^4 tuples", "tuples", 10**4, None, None),
    ("10^5 tuples", "tuples", 10**5, None, None),
    ("10^6 tuples", "tuples", 10**6, 2.0, None),
    ("10^7 range", "range", 10**7, 3.0, 1024.0),
]


def _peak_mib() -> float:
    # ru_maxrss is KiB on Linux and bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def run_case(kind: str, size: int) -> dict[str, float]:
    """Time the plan flow for one pool in this process; return seconds and peak MiB."""
    from splitter.campaign.canonical import materialize_pool, pool_digest
    from splitter.campaign.digest import config_digest, run_seed
    from splitter.campaign.machines import Machine
    from splitter.campaign.plan import make_plan, share_jobs

    pool = [(i, i * 0.5) for i in range(size)] if kind == "tuples" else range(size)
    machines = [Machine("alpha", 2.0, 8), Machine("beta", 1.5, 4), Machine("gamma", 1.0, 2)]
    config = {"job": {"steps": "100"}, "run": {"workers": "2"}}
    baseline = _peak_mib()

    start = time.perf_counter()
    digest = pool_digest(materialize_pool(pool))
    seed = run_seed(digest, config_digest(config))
    digested = time.perf_counter()
    plan = make_plan(seed, machines, len(pool))
    share_jobs(plan, plan.share_for("beta"))
    done = time.perf_counter()
    return {
        "digest_s": digested - start,
        "order_split_s": done - digested,
        "total_s": done - start,
        "peak_mib": _peak_mib() - baseline,
    }


def _measure_in_child(kind: str, size: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--case", kind, str(size)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result: dict[str, float] = json.loads(output)
    return result


def _goal_text(result: dict[str, float], seconds: float | None, mib: float | None) -> str:
    if seconds is None and mib is None:
        return "-"
    goals = [f"< {seconds:g} s" if seconds else "", f"< {mib:g} MiB" if mib else ""]
    met = (seconds is None or result["total_s"] < seconds) and (
        mib is None or result["peak_mib"] < mib
    )
    return ", ".join(goal for goal in goals if goal) + (" ok" if met else " MISSED")


def main() -> None:
    """Run every case in its own interpreter and print the table."""
    header = f"{'case':<13}{'digest s':>10}{'order+split s':>15}{'total s':>10}{'peak MiB':>10}"
    print(header + "  goal")
    for label, kind, size, goal_s, goal_mib in CASES:
        result = _measure_in_child(kind, size)
        print(
            f"{label:<13}{result['digest_s']:>10.3f}{result['order_split_s']:>15.3f}"
            f"{result['total_s']:>10.3f}{result['peak_mib']:>10.1f}  "
            + _goal_text(result, goal_s, goal_mib)
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--case"]:
        print(json.dumps(run_case(sys.argv[2], int(sys.argv[3]))))
    else:
        main()
