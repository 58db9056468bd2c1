"""The store under large rows, huge log records and crafted files, through the real CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard

from conftest import run_cli, write_configs, write_entry
from splitter.store.frames import MAX_FRAME_BYTES, FrameReader
from splitter.store.logfile import log_parts, read_log_records
from splitter.store.results import BASE_COLUMNS, ResultsReader

LARGE = """\
import logging
import multiprocessing

import splitter


def job(item):
    if item == 0:
        logging.getLogger("big").warning("a huge record %s", "r" * 10_000_000 + " its end")
    if item == 1:
        return {"s": "t" * 4_000_000}  # over a row's 3 MiB: an error row saying so
    return {"s": "abcdefghijkl"[item] * 2_500_000}


if __name__ == "__main__":
    multiprocessing.freeze_support()
    splitter.main(job, list(range(12)))
"""


def test_flushes_of_rows_larger_than_a_frame_keep_every_row_and_the_huge_log_record(
    tmp_path: Path,
) -> None:
    write_configs(tmp_path / "configs")
    (tmp_path / "main.py").write_text(LARGE, encoding="utf-8")
    done = run_cli(["run", "--all", "--yes", "--workers", "1"], tmp_path, timeout=120)
    assert done.returncode == 1, done.stderr
    folder = tmp_path / "results" / "all"
    reader = ResultsReader(folder / "results.csv.zst")
    rows = {int(row[0]): dict(zip(reader.header, row, strict=True)) for row in reader}
    assert reader.damage is None
    assert sorted(rows) == list(range(12))
    assert rows[1]["status"] == "error"
    assert rows[1]["error"].startswith("the job's result makes a row of 4,000,")
    assert all(rows[job]["s"] == "abcdefghijkl"[job] * 2_500_000 for job in range(2, 12))
    assert max(len(payload) for payload in FrameReader(folder / "results.csv.zst")) < 3 << 20
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (manifest["counts"]["ok"], manifest["counts"]["error"]) == (11, 1)
    texts = [text for _, text in read_log_records(log_parts(folder)) if "a huge record" in text]
    assert len(texts) == 1 and len(texts[0]) < 600_000
    assert " characters of this record cut ...]" in texts[0]
    assert texts[0].endswith("r its end")


RSS_OF = """\
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stderr.write(done.stderr)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def rle_frame(byte: bytes, size: int) -> bytes:
    """A frame of RLE blocks (no content size, no checksum) making ``size`` bytes of ``byte``."""
    blocks = []
    while size > 0:
        part = min(size, zstandard.BLOCKSIZE_MAX)
        size -= part
        blocks.append(((part << 3) | (1 << 1) | int(size == 0)).to_bytes(3, "little") + byte)
    return b"\x28\xb5\x2f\xfd\x00\x58" + b"".join(blocks)


def peak_megabytes(args: list[str], cwd: Path) -> tuple[int, str, int]:
    """Exit code, stderr and peak RSS in MB of ``python ARGS`` (KiB from getrusage on Linux)."""
    done = subprocess.run(
        [sys.executable, "-c", RSS_OF, sys.executable, *args],
        cwd=cwd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    code, peak = map(int, done.stdout.split())
    return code, done.stderr, peak >> 10


@pytest.mark.skipif(sys.platform != "linux", reason="peak RSS is read as Linux reports it")
def test_reading_a_decompression_bomb_takes_tens_of_megabytes(campaign_dir: Path) -> None:
    done = run_cli(["run", "--all", "--yes"], campaign_dir)
    assert done.returncode == 0, done.stderr
    results = campaign_dir / "results" / "all" / "results.csv.zst"
    header = zstandard.ZstdCompressor().compress(
        (",".join((*BASE_COLUMNS, "item", "extra")) + "\n").encode()
    )
    # A few KB each: 64 MiB of "x" (readers took frames of up to 256 MiB), and frames
    # just under what readers take of "x", of commas and of empty lines.
    for byte, size in [(b"x", 64 << 20), (b"x", MAX_FRAME_BYTES), (b",", MAX_FRAME_BYTES),
                       (b"\n", MAX_FRAME_BYTES)]:  # fmt: skip
        results.write_bytes(header + rle_frame(byte, size))
        assert results.stat().st_size < 1 << 16
        code, stderr, peak = peak_megabytes(
            ["-m", "splitter", "status", "results/all"], campaign_dir
        )
        assert "Traceback" not in stderr
        assert code in (0, 2), stderr
        assert peak < 200, (byte, size, peak)
    code, stderr, peak = peak_megabytes(
        [str(campaign_dir / "main.py"), "run", "--all", "--yes"], campaign_dir
    )
    assert (code, peak < 200) == (2, True), stderr
    assert "row 1 has 0 cells, not 11" in stderr


def test_a_frame_that_claims_more_than_readers_take_is_damage_and_resumes(
    tmp_path: Path,
) -> None:
    write_configs(tmp_path / "configs")
    write_entry(tmp_path / "main.py")
    assert run_cli(["run", "--all", "--yes"], tmp_path).returncode == 0
    results = tmp_path / "results" / "all" / "results.csv.zst"
    whole = results.read_bytes()
    results.write_bytes(whole + rle_frame(b"x", MAX_FRAME_BYTES + 1))
    again = run_cli(["run", "--all", "--yes"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert results.read_bytes() == whole
    assert len(list((tmp_path / "results" / "all").glob("results.csv.zst.damaged-*"))) == 1


FILLING = """\
import multiprocessing
import secrets
import time

import splitter


def job(item):
    time.sleep(0.002)
    return {"noise": secrets.token_hex(200)}  # a row of about 200 bytes, compressed


if __name__ == "__main__":
    multiprocessing.freeze_support()
    splitter.main(job, list(range(1500)))
"""


def _file_size_limit(limit: int) -> None:
    """Runs in the child before exec: writes past `limit` bytes fail with EFBIG, as a full disk."""
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs a file size limit set before exec")
def test_a_disk_filling_mid_run_leaves_counts_of_the_rows_it_holds(tmp_path: Path) -> None:
    write_configs(tmp_path / "configs", config="[run]\nflush_interval = 0.1\n")
    (tmp_path / "main.py").write_text(FILLING, encoding="utf-8")
    environment = {k: v for k, v in os.environ.items() if k != "SPLITTER_MACHINE"}
    full = subprocess.run(
        [sys.executable, "main.py", "run", "--all", "--yes", "--workers", "1"],
        cwd=tmp_path, env=environment, stdin=subprocess.DEVNULL, capture_output=True,
        text=True, timeout=120, preexec_fn=lambda: _file_size_limit(80_000),
    )  # fmt: skip
    assert full.returncode == 2, full.stderr
    assert "results.csv.zst (File too large)" in full.stderr
    folder = tmp_path / "results" / "all"
    on_disk = len(list(ResultsReader(folder / "results.csv.zst")))
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["state"] == "interrupted"
    assert 0 < on_disk < 1500
    assert (manifest["counts"]["ok"], manifest["counts"]["remaining"]) == (on_disk, 1500 - on_disk)
    resumed = run_cli(["run", "--all", "--yes"], tmp_path, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert len(list(ResultsReader(folder / "results.csv.zst"))) == 1500
