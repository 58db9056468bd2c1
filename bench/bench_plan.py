"""Benchmark the plan work (job keys, order, split) against 0.1's, and the jobs a change moves.

Each case runs in a fresh interpreter so its peak memory (ru_maxrss, minus
the peak once the pool is built) is its own. Beside today's plan it times
0.1's way in the same run: the same pool digest, then an order keyed by each
job's *index* (splitmix64 of (run seed, index), one sort), which could not
tell a job from its position. Then, for 3 and 8 machines, how many existing
jobs change hands when the pool grows by 1% and 10%, and when one machine's
weight grows by 20%, against the bound k x (machines - 1). Prints tables; it
asserts nothing.

    .venv/bin/python bench/bench_plan.py
"""

from __future__ import annotations

import hashlib
import json
import resource
import subprocess
import sys
import time
from typing import Any

__all__ = ["main"]

# (label, pool kind, size, goal as a ratio to 0.1's time, goal in MiB or None)
CASES = [
    ("10^5 tuples", "tuples", 10**5, None, None),
    ("10^6 tuples", "tuples", 10**6, 1.5, None),
    ("10^7 range", "range", 10**7, 1.5, 1024.0),
]
MOVE_JOBS = 100_000


def _peak_mib() -> float:
    # ru_maxrss is KiB on Linux and bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _pool(kind: str, size: int) -> Any:
    return [(i, i * 0.5) for i in range(size)] if kind == "tuples" else range(size)


def run_case(kind: str, size: int, legacy: bool) -> dict[str, float]:
    """Time one plan of the pool in this process; return seconds and peak MiB."""
    from splitter.campaign.canonical import materialize_pool
    from splitter.campaign.digest import campaign_seed, config_digest
    from splitter.campaign.identity import identify_pool
    from splitter.campaign.machines import Machine
    from splitter.campaign.plan import make_plan, share_jobs

    pool = _pool(kind, size)
    machines = [Machine("alpha", 2.0, 8), Machine("beta", 1.5, 4), Machine("gamma", 1.0, 2)]
    config = {"job": {"steps": "100"}, "run": {"workers": "2"}}
    baseline = _peak_mib()
    start = time.perf_counter()
    items = materialize_pool(pool)
    if legacy:
        _legacy_plan(items)
    else:
        identity = identify_pool(items)
        seed = campaign_seed(config_digest(config))
        plan = make_plan(seed, identity.digest, machines, identity.keys.words)
        share_jobs(plan, plan.share_for("beta"))
    return {"total_s": time.perf_counter() - start, "peak_mib": _peak_mib() - baseline}


def _legacy_plan(items: Any) -> None:
    """0.1's plan work: the pool digest, then a permutation of the job indices."""
    import numpy as np

    from splitter.campaign.canonical import encoded_chunks, pool_header
    from splitter.campaign.mix import mix

    hasher = hashlib.blake2b(pool_header(len(items)), digest_size=32)
    for chunk in encoded_chunks(items):
        hasher.update(chunk.data.data if isinstance(chunk.data, np.ndarray) else chunk.data)
    seed = hasher.digest()
    key = np.uint64(int.from_bytes(seed[:8], "little"))
    order = np.arange(len(items), dtype=np.uint64)
    order *= np.uint64(0x9E3779B97F4A7C15)
    order += key
    mix(order)
    bits = np.uint64(max(len(items) - 1, 1).bit_length())
    order >>= bits
    order <<= bits
    order |= np.arange(len(items), dtype=np.uint64)
    order.sort()


def _measure_in_child(kind: str, size: int, legacy: bool) -> dict[str, float]:
    command = [sys.executable, __file__, "--case", kind, str(size), str(int(legacy))]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result: dict[str, float] = json.loads(output)
    return result


def _plans() -> None:
    print(f"{'case':<13}{'0.1 s':>8}{'0.2 s':>8}{'ratio':>8}{'0.1 MiB':>9}{'0.2 MiB':>9}  goal")
    for label, kind, size, goal_ratio, goal_mib in CASES:
        old = _measure_in_child(kind, size, legacy=True)
        new = _measure_in_child(kind, size, legacy=False)
        ratio = new["total_s"] / old["total_s"]
        goals = []
        if goal_ratio is not None:
            goals.append(f"<= {goal_ratio:g}x {'ok' if ratio <= goal_ratio else 'MISSED'}")
        if goal_mib is not None:
            met = new["peak_mib"] < goal_mib
            goals.append(f"< {goal_mib:g} MiB {'ok' if met else 'MISSED'}")
        print(
            f"{label:<13}{old['total_s']:>8.3f}{new['total_s']:>8.3f}{ratio:>7.2f}x"
            f"{old['peak_mib']:>9.1f}{new['peak_mib']:>9.1f}  {', '.join(goals) or '-'}"
        )


def _owners(machines: list[Any], size: int) -> dict[str, str]:
    from splitter.campaign.digest import campaign_seed
    from splitter.campaign.identity import identify_pool
    from splitter.campaign.plan import make_plan, share_jobs

    identity = identify_pool(range(size))
    plan = make_plan(campaign_seed(bytes(32)), identity.digest, machines, identity.keys.words)
    keys = identity.keys
    owner = {}
    for share in plan.shares:
        for key in keys.hex_of(share_jobs(plan, share)):
            owner[key] = share.machine.name
    return owner


def _moved(before: dict[str, str], after: dict[str, str]) -> int:
    return sum(1 for key, machine in before.items() if after.get(key, machine) != machine)


def _moves() -> None:
    from splitter.campaign.machines import Machine

    print(f"\njobs that change hands, of {MOVE_JOBS:,} (bound for k added: k x (machines - 1))")
    print(f"{'machines':>8}  {'change':<24}{'moved':>8}{'% of pool':>11}{'bound':>9}")
    for count in (3, 8):
        machines = [Machine(f"m{i}", 1.0 + 0.25 * i, 4) for i in range(count)]
        base = _owners(machines, MOVE_JOBS)
        for percent in (1, 10):
            added = MOVE_JOBS * percent // 100
            moved = _moved(base, _owners(machines, MOVE_JOBS + added))
            bound = added * (count - 1)
            _move_line(count, f"+{percent}% jobs ({added:,})", moved, f"{bound:,}")
        for index, where in ((0, "first"), (count // 2, "middle")):
            heavier = list(machines)
            heavier[index] = Machine(machines[index].name, machines[index].perf * 1.2, 4)
            moved = _moved(base, _owners(heavier, MOVE_JOBS))
            total = sum(m.weight for m in machines)
            least = MOVE_JOBS * (heavier[index].weight / (total + 0.2 * machines[index].weight)
                                 - machines[index].weight / total)  # fmt: skip
            _move_line(count, f"{where} machine +20% weight", moved, f">= {least:,.0f}")


def _move_line(machines: int, change: str, moved: int, bound: str) -> None:
    print(f"{machines:>8}  {change:<24}{moved:>8,}{100 * moved / MOVE_JOBS:>10.2f}%{bound:>9}")


def main() -> None:
    """Run every plan case in its own interpreter, then the moves; print the tables."""
    _plans()
    _moves()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--case"]:
        print(json.dumps(run_case(sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1")))
    else:
        main()
