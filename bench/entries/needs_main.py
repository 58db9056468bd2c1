"""bench_needs's campaign: sleep jobs of four kinds, with their needs or one core each.

    python needs_main.py NEEDS|ONE-CORE run ...

Each item is (index, kind, seconds); the job sleeps its seconds, so two real
cores can host a machine declared far larger.
"""

from __future__ import annotations

import multiprocessing
import sys
import time

import splitter

# kind: (how many jobs, seconds each, needs)
KINDS = {
    "one-core": (120, 0.5, {}),
    "four-core": (16, 1.0, {"cores": 4}),
    "one-gpu": (16, 1.0, {"gpus": 1}),
    "two-gpu": (4, 1.0, {"gpus": 2}),
}


def pool() -> list[tuple[int, str, float]]:
    """Every job as (index, kind, seconds), the kinds interleaved."""
    jobs = [(kind, seconds) for kind, (count, seconds, _) in KINDS.items() for _ in range(count)]
    return [(index, kind, seconds) for index, (kind, seconds) in enumerate(jobs)]


def job(index: int, kind: str, seconds: float) -> dict[str, str]:
    time.sleep(seconds)
    return {"kind": kind}


def needs(item: tuple[int, str, float]) -> dict[str, object]:
    return KINDS[item[1]][2]


if __name__ == "__main__":
    multiprocessing.freeze_support()
    declared = sys.argv.pop(1) == "NEEDS"
    splitter.main(job, pool(), needs=needs if declared else None)
