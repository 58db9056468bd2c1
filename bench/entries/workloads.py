"""The benchmark's jobs, shared by the splitter entry and the bare-pool script."""

from __future__ import annotations

import time


def noop(index: int) -> int:
    """No work at all: measures pure per-job overhead."""
    return index


def one_ms(index: int) -> int:
    """About a millisecond of CPU (a busy loop, not a sleep, so cores are really used)."""
    end = time.perf_counter() + 0.001
    while time.perf_counter() < end:
        pass
    return index


WORKLOADS = {"noop": noop, "1ms": one_ms}
