"""The baseline: a bare multiprocessing.Pool(2).imap_unordered, spawn, chunksize n/8."""

from __future__ import annotations

import multiprocessing
import sys

from workloads import WORKLOADS

if __name__ == "__main__":
    workload, size = sys.argv[1], int(sys.argv[2])
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        for _ in pool.imap_unordered(
            WORKLOADS[workload], range(size), chunksize=max(1, size // 8)
        ):
            pass
