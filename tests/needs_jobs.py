"""Module-level jobs for the tests of jobs with needs (spawned workers import them by name)."""

from __future__ import annotations

import os
import time
from typing import Any


def record_slots(index: int, seconds: float, kind: str, *, resources: Any) -> dict[str, Any]:
    """Sleep ``seconds``; return when, and what the job was told it holds."""
    start = time.time()
    time.sleep(seconds)
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return {
        "start": start,
        "end": time.time(),
        "gpus": os.environ["SPLITTER_GPUS"],
        "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "cores": int(os.environ["SPLITTER_CORES"]),
        "omp": os.environ.get("OMP_NUM_THREADS"),
        "resource_gpus": ",".join(resources.gpus),
        "resource_cores": resources.cores,
        "cpus": list(resources.cpus),
        "affinity": affinity,
        "licence": os.environ.get("SPLITTER_RESOURCE_LICENCES"),
    }


def allocate(megabytes: int) -> int:
    """Allocate and touch ``megabytes`` MiB; return how many it held."""
    block = bytearray(megabytes * 2**20)
    block[::4096] = b"x" * len(block[::4096])
    return len(block) // 2**20
