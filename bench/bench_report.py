"""Benchmark `report`: the HTML report of a merged folder of 3,000,000 rows.

The merged folder is built directly (results.csv.zst in frames as `merge`
writes them, and its report.json; not timed); the report library call then
runs in a fresh interpreter, so the peak memory printed is the report's own.
Goal: under 30 s and 1 GiB. Prints; asserts nothing.

    .venv/bin/python bench/bench_report.py [ROWS]
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from splitter.report.build import write_report
from splitter.store.frames import FrameWriter, line_pieces

__all__ = ["main"]

HOSTS = ("alpha", "beta", "gamma")
ROWS = 3_000_000
GOAL_SECONDS = 30.0
GOAL_MIB = 1024
CHUNK = 100_000  # rows per frame
START = 1_795_000_000.0
HEADER = "job_id,machine,status,start_time,duration,error,index,draw,label"


def build(merged: Path, rows: int) -> None:
    """A merged folder of `rows` jobs over three hosts; one job in 1,000 failed."""
    merged.mkdir(parents=True)
    rng = np.random.default_rng(1)
    failed = 0
    with FrameWriter(merged / "results.csv.zst", 1) as frames:
        frames.write_frame((HEADER + "\n").encode())
        for first in range(0, rows, CHUNK):
            ids = np.arange(first, min(first + CHUNK, rows))
            host = ids % len(HOSTS)
            duration = rng.lognormal(-1.0, 1.0, len(ids))
            start = START + ids / 300.0
            lines = []
            for job, h, d, s in zip(
                *(a.tolist() for a in (ids, host, duration, start)), strict=True
            ):
                if job % 1000 == 7:
                    failed += 1
                    cells = f"{job},{HOSTS[h]},error,{s!r},{d!r},ValueError: bad input {job % 3}"
                else:
                    cells = f"{job},{HOSTS[h]},ok,{s!r},{d!r},"
                lines.append(f"{cells},{job},{d!r},run\n")
            frames.write_frames(line_pieces("".join(lines).encode()))
    report = {
        "digest": "ab" * 32, "expected": rows, "ok": rows - failed,
        "failed": {"error": failed, "crashed": 0, "timeout": 0}, "missing": [],
        "machines": [{"machine": name} for name in HOSTS], "inputs": [],
    }  # fmt: skip
    (merged / "report.json").write_text(json.dumps(report))


def timed_report(merged: Path) -> dict[str, float]:
    """Write the report here; return its wall and CPU seconds and this process's peak MiB.

    The CPU seconds tell the report's own cost apart on a busy shared machine.
    """
    began, cpu = time.perf_counter(), time.process_time()
    result = write_report(merged)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_mib": peak, "rows": result.rows,
            "html_kib": result.path.stat().st_size / 1024}  # fmt: skip


def main() -> None:
    """Build the folder, time the report in a fresh interpreter, print seconds and peak RSS."""
    rows = int(sys.argv[1]) if len(sys.argv) > 1 and __name__ == "__main__" else ROWS
    with tempfile.TemporaryDirectory() as work:
        merged = Path(work) / "merged"
        began = time.perf_counter()
        build(merged, rows)
        print(f"built a merged folder of {rows:,} rows in {time.perf_counter() - began:.1f} s")
        code = (
            "import json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
            "from bench_report import timed_report;"
            "print(json.dumps(timed_report(Path(sys.argv[2]))))"
        )
        argv = [sys.executable, "-c", code, str(Path(__file__).parent), str(merged)]
        child = subprocess.run(argv, check=True, capture_output=True)
        figures = json.loads(child.stdout)
    print(
        f"report of {figures['rows']:,} rows: {figures['seconds']:.1f} s"
        f" (goal < {GOAL_SECONDS:.0f} s; {figures['cpu_seconds']:.1f} s of CPU),"
        f" peak RSS {figures['peak_mib']:.0f} MiB"
        f" (goal < {GOAL_MIB} MiB), report.html {figures['html_kib']:.0f} KiB"
    )


if __name__ == "__main__":
    main()
