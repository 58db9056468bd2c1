"""The Dask benchmark's campaign: python dask_main.py N run --all --dask ADDRESS ...

Job i sleeps 5-50 ms (``durations(N)[i]``), times the slowdown factor of the
worker that runs it (``SPLITTER_BENCH_SLOWDOWN`` in the worker's environment).
"""

from __future__ import annotations

import os
import sys
import time

import splitter


def durations(size: int) -> list[int]:
    """Milliseconds of work of each job: 5..50, spread evenly and deterministically."""
    return [5 + (index * 37) % 46 for index in range(size)]


def sleepy(milliseconds: int) -> int:
    """Sleep for the job's work times this worker's slowdown (a slower machine)."""
    slowdown = float(os.environ.get("SPLITTER_BENCH_SLOWDOWN", "1"))
    time.sleep(milliseconds / 1000 * slowdown)
    return milliseconds


if __name__ == "__main__":
    splitter.main(sleepy, durations(int(sys.argv[1])), argv=sys.argv[2:])
