"""Benchmark `merge`: 3 host folders x 1,000,000 rows into one result set, log and report.

The folders are built with ResultsWriter (not timed); the merge library call
then runs in a fresh interpreter, so the peak memory printed is the merge's
own. Goal: over 500,000 rows/s. Prints; asserts nothing.

    .venv/bin/python bench/bench_merge.py [ROWS_PER_HOST]
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from splitter.merge.combine import merge_folders
from splitter.store.logfile import LogFileWriter
from splitter.store.manifest import write_manifest
from splitter.store.results import ResultsWriter

__all__ = ["main"]

HOSTS = ("alpha", "beta", "gamma")
ROWS_PER_HOST = 1_000_000
GOAL_ROWS_PER_SECOND = 500_000
FLUSH_ROWS = 20_000  # rows per frame, as a busy host flushing every second writes them
START = 1_795_000_000.0
PLAN_DIGEST = "ab" * 32


def build_host(folder: Path, machine: str, job_ids: list[int], total: int) -> None:
    """One host folder like `run` leaves it: results in frames, a log, a finished manifest."""
    folder.mkdir(parents=True)
    rng = random.Random(machine)
    with ResultsWriter(folder / "results.csv.zst", machine, None) as writer:
        for number, job_id in enumerate(job_ids, 1):
            draw = rng.random()
            value = {"index": job_id, "draw": draw, "square": job_id * job_id, "label": "run"}
            writer.add(job_id, "ok", START + number * 0.001, 0.5 + draw, "", value)
            if number % FLUSH_ROWS == 0:
                writer.flush()
    log = LogFileWriter(folder, 64 << 20)
    for number in range(0, len(job_ids), 1000):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(START + number * 0.001))
        log.write(f"{stamp}.{number % 1_000_000:06d}Z {machine} INFO done {number} jobs\n")
    log.close()
    write_manifest(
        folder / "manifest.json",
        {
            "machine": machine, "digest": PLAN_DIGEST, "plan_digest": PLAN_DIGEST,
            "run_seed": PLAN_DIGEST,
            "total": total, "share": len(job_ids), "state": "finished",
            "started": "2026-11-20T10:00:00Z", "ended": "2026-11-20T10:20:00Z",
        },
    )  # fmt: skip


def build(root: Path, rows_per_host: int) -> list[Path]:
    """The hosts' folders over one shuffled pool of len(HOSTS) x rows_per_host jobs."""
    total = rows_per_host * len(HOSTS)
    order = list(range(total))
    random.Random(1).shuffle(order)  # fine for a benchmark; plans never shuffle this way
    folders = []
    for number, machine in enumerate(HOSTS):
        folder = root / machine
        build_host(folder, machine, order[number :: len(HOSTS)], total)
        folders.append(folder)
    return folders


def timed_merge(folders: list[Path], out: Path) -> dict[str, float]:
    """Run the merge library call here; return its seconds and this process's peak MiB."""
    began = time.perf_counter()
    result = merge_folders(folders, out)
    seconds = time.perf_counter() - began
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20
    return {"seconds": seconds, "peak_mib": peak, "ok": result.report["ok"]}


def main() -> None:
    """Build the folders, time the merge in a fresh interpreter, print rows/s and peak RSS."""
    rows_per_host = int(sys.argv[1]) if len(sys.argv) > 1 else ROWS_PER_HOST
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        began = time.perf_counter()
        folders = build(root, rows_per_host)
        print(
            f"built {len(HOSTS)} x {rows_per_host:,} rows in {time.perf_counter() - began:.1f} s"
        )
        code = (
            "import json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
            "from bench_merge import timed_merge;"
            "print(json.dumps(timed_merge([Path(p) for p in sys.argv[3:]], Path(sys.argv[2]))))"
        )
        argv = [sys.executable, "-c", code, str(Path(__file__).parent), str(root / "merged")]
        child = subprocess.run([*argv, *map(str, folders)], check=True, capture_output=True)
        figures = json.loads(child.stdout)
    rows = rows_per_host * len(HOSTS)
    rate = rows / figures["seconds"]
    print(
        f"merge {len(HOSTS)} x {rows_per_host:,} rows: {figures['seconds']:.2f} s, "
        f"{rate:,.0f} rows/s (goal > {GOAL_ROWS_PER_SECOND:,}), "
        f"peak RSS {figures['peak_mib']:.0f} MiB, {figures['ok']:,} ok"
    )


if __name__ == "__main__":
    main()
