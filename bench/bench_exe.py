"""The one-file binary: its size, what it unpacks, and start-up of `digest` frozen vs Python.

Builds example_main.py with packaging/build_exe.py into a temp folder (about
30 s), unless `--binary PATH` names one already built from it. Start-up is the
whole-process wall time of `digest` (load configs, digest the pool, print),
run alternately frozen and as `python example_main.py digest` in the same
folder; the medians are printed. Every frozen start unpacks the bundle into
$TMPDIR/_MEI... and deletes it at exit: that copy is the difference.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENTRY = ROOT / "example_main.py"
ROUNDS = 11


def _timed(argv: list[str], cwd: Path) -> float:
    began = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def _build(dist: Path, work: Path) -> Path:
    build = [sys.executable, str(ROOT / "packaging" / "build_exe.py"), str(ENTRY)]
    subprocess.run(
        [*build, "--dist", str(dist), "--work", str(work)], check=True, stdout=subprocess.DEVNULL
    )
    return dist / ENTRY.stem


def _unpacked_bytes(binary: Path) -> int | None:
    """What one start writes to the temp dir: the bundle's libraries and data files."""
    try:
        from PyInstaller.archive.readers import CArchiveReader
    except ImportError:
        return None
    entries = CArchiveReader(str(binary)).toc.values()
    return sum(entry[2] for entry in entries if entry[-1] in ("b", "x"))


def _report(binary: Path, folder: Path) -> None:
    shutil.copytree(ROOT / "configs", folder / "configs")
    python = [sys.executable, str(ENTRY), "digest"]
    frozen = [str(binary), "digest"]
    _timed(frozen, folder)  # First start reads the file from disk; time warm ones.
    times: dict[str, list[float]] = {"frozen": [], "python": []}
    for _ in range(ROUNDS):
        times["frozen"].append(_timed(frozen, folder))
        times["python"].append(_timed(python, folder))
    size = binary.stat().st_size / 2**20
    unpacked = _unpacked_bytes(binary)
    extra = f", unpacks {unpacked / 2**20:.1f} MiB per start" if unpacked else ""
    print(f"binary {binary.name}: {size:.1f} MiB{extra}")
    f, p = statistics.median(times["frozen"]), statistics.median(times["python"])
    print(
        f"digest start-up, median of {ROUNDS}: frozen {f:.3f} s  python {p:.3f} s  "
        f"(+{f - p:.3f} s, {f / p:.2f}x)"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Print the binary's size and its `digest` start-up against Python's."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", type=Path, help="a binary built from example_main.py")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        binary = args.binary or _build(folder / "dist", folder / "build")
        _report(binary.resolve(), folder)


if __name__ == "__main__":
    main()
