"""`make bench`: every benchmark, one after another; figures printed, nothing asserted."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

BENCHES = (
    "bench_plan",
    "bench_resume",
    "bench_run",
    "bench_merge",
    "bench_report",
    "bench_exe",
    "bench_tasks",
    "bench_makespan",
    "bench_needs",
    "bench_dask",
)

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    for name in BENCHES:
        if not (Path(__file__).parent / f"{name}.py").exists():
            continue
        print(f"\n== {name} ==", flush=True)
        importlib.import_module(name).main()
