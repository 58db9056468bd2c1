"""Whole-process wall time of `splitter run --tasks` against xargs -P2 and GNU parallel -j2.

    python bench/bench_tasks.py [--true N] [--sleep N] [--rounds R]

The same task file (N lines of `true`, or of `sleep 0.01`) runs under each
tool on 2 workers, one after another in every round (alternated, so a noisy
machine slows all alike); medians are printed as tasks/s and as ratios to
xargs. Every tool runs each line through bash -c. A peer that is not
installed is skipped with a note. Defaults keep the whole bench to a few
minutes on a 2-core machine: 20,000 `true` and 4,000 `sleep 0.01` (20,000 of
those alone take 100 s per tool).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

CONFIG = "[logging]\nlevel = INFO\n[run]\nnice = 0\n"
Command = Callable[[Path, Path], list[str]]


def _splitter(tasks: Path, work: Path) -> list[str]:
    out = work / f"out-{time.monotonic_ns()}"
    return [
        sys.executable, "-m", "splitter", "run", "--tasks", str(tasks), "--all", "--yes",
        "--workers", "2", "--out", str(out), "--configs", str(work / "configs"),
    ]  # fmt: skip


def _xargs(tasks: Path, work: Path) -> list[str]:
    return ["xargs", "-d", "\n", "-P2", "-n1", "-a", str(tasks), "bash", "-c"]


def _parallel(tasks: Path, work: Path) -> list[str]:
    return ["parallel", "--will-cite", "-j2", "-a", str(tasks)]


PEERS: dict[str, tuple[str, Command]] = {
    "splitter": ("", _splitter),
    "xargs -P2": ("xargs", _xargs),
    "parallel -j2": ("parallel", _parallel),
}


def _timed(argv: list[str], cwd: Path) -> float:
    began = time.perf_counter()
    subprocess.run(
        argv, cwd=cwd, check=True, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin",
        "SHELL": shutil.which("bash") or "/bin/sh"},
    )  # fmt: skip
    return time.perf_counter() - began


def _case(line: str, size: int, rounds: int, work: Path) -> None:
    tasks = work / f"tasks-{size}.txt"
    tasks.write_text(f"{line}\n" * size, encoding="utf-8")
    present = {
        name: command for name, (tool, command) in PEERS.items()
        if not tool or shutil.which(tool, path="/usr/bin:/bin")
    }  # fmt: skip
    seconds: dict[str, list[float]] = {name: [] for name in present}
    for _ in range(rounds):
        for name, command in present.items():
            seconds[name].append(_timed(command(tasks, work), work))
    medians = {name: statistics.median(times) for name, times in seconds.items()}
    base = medians.get("xargs -P2")
    cells = []
    for name, median in medians.items():
        ratio = f", {median / base:.2f}x xargs" if base else ""
        cells.append(f"{name} {median:6.2f} s ({size / median:7,.0f} tasks/s{ratio})")
    print(f"{line!r:>14} x {size:>6}: " + "  ".join(cells), flush=True)
    for name in PEERS:
        if name not in present:
            print(f"  {name}: not installed, skipped (apt-get install parallel)")


def main(argv: list[str] | None = None) -> None:
    """Print the comparison for `true` and for `sleep 0.01`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--true", type=int, default=20_000, dest="true_tasks")
    parser.add_argument("--sleep", type=int, default=4_000, dest="sleep_tasks")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args([] if argv is None else argv)
    print(f"run --tasks vs xargs -P2 vs GNU parallel -j2, whole process, median of {args.rounds}")
    print("goals: >= 1,000 tasks/s on `true`; within 1.05x of xargs on `sleep 0.01`")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "configs").mkdir()
        (work / "configs" / "machines.json").write_text('{"bench": [1.0, 2]}')
        (work / "configs" / "splitter.ini").write_text(CONFIG)
        _case("true", args.true_tasks, args.rounds, work)
        _case("sleep 0.01", args.sleep_tasks, args.rounds, work)


if __name__ == "__main__":
    main(sys.argv[1:])
