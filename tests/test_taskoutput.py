"""A task's output: the log gets its head and tail with a note; the keep file the whole."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import zstandard

from splitter.run.taskoutput import LOG_BYTES, StreamCapture


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "splitter.task"]


def test_short_output_is_logged_whole_one_line_per_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    stream = StreamCapture(7, "out", None)
    for chunk in (b"first li", b"ne\nsecond\n"):
        stream.feed(chunk)
    stream.log_lines()
    assert logged(caplog) == ["job 7 out: first line", "job 7 out: second"]


def test_chatty_output_logs_the_first_and_last_64_kib_and_what_was_cut(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    stream = StreamCapture(3, "err", None)
    line = b"%07d\n"
    data = b"".join(line % i for i in range(100_000))  # 800,000 bytes
    for start in range(0, len(data), 4096):
        stream.feed(data[start : start + 4096])
    stream.log_lines()
    messages = logged(caplog)
    lines_per_half = LOG_BYTES // 8
    assert messages[0] == "job 3 err: 0000000"
    assert messages[lines_per_half] == (
        f"job 3 err: ... {800_000 - 2 * LOG_BYTES} bytes cut here (the first and last "
        f"{LOG_BYTES} are logged; the whole is kept with [tasks] keep_output) ..."
    )
    assert messages[-1] == "job 3 err: 0099999"
    assert len(messages) == 2 * lines_per_half + 1
    assert stream.total == 800_000


def test_the_last_line_skips_blank_lines() -> None:
    stream = StreamCapture(0, "err", None)
    stream.feed(b"warning: a\nfatal:   no such  file\n\n  \n")
    assert stream.last_line() == "fatal: no such file"


def test_the_keep_file_holds_the_whole_stream_compressed(tmp_path: Path) -> None:
    keep = tmp_path / "tasks" / "5.out.zst"
    stream = StreamCapture(5, "out", keep)
    data = bytes(range(256)) * 2000
    for start in range(0, len(data), 1000):
        stream.feed(data[start : start + 1000])
    stream.close()
    assert zstandard.ZstdDecompressor().decompressobj().decompress(keep.read_bytes()) == data
    assert sorted(p.name for p in keep.parent.iterdir()) == ["5.out.zst"]


def test_a_stream_with_no_output_writes_no_keep_file(tmp_path: Path) -> None:
    stream = StreamCapture(5, "out", tmp_path / "tasks" / "5.out.zst")
    stream.close()
    assert not (tmp_path / "tasks").exists()


def test_a_stopped_task_leaves_no_keep_file(tmp_path: Path) -> None:
    stream = StreamCapture(5, "out", tmp_path / "tasks" / "5.out.zst")
    stream.feed(b"partial")
    stream.discard()
    assert list((tmp_path / "tasks").iterdir()) == []
