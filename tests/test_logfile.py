"""Tests for splitter.store.logfile: UTC records, log.zst rotation and reading records back."""

from __future__ import annotations

import logging
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splitter.store import frames, logfile
from splitter.store.frames import FrameReader
from splitter.store.logfile import (
    LogFileWriter,
    UtcFormatter,
    ZstdLogHandler,
    log_parts,
    read_log_records,
)

WHEN = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC).timestamp()


def make_record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("splitter.runner", logging.INFO, __file__, 1, message, (), None)
    record.created = WHEN
    record.__dict__.update(extra)
    return record


def frames_text(path: Path) -> str:
    return b"".join(FrameReader(path)).decode("utf-8")


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("splitter.test_logfile")
    log.propagate = False
    log.setLevel(logging.INFO)
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)


def test_records_start_with_a_utc_timestamp_and_default_machine() -> None:
    text = UtcFormatter().format(make_record("started"))
    assert text == "2026-11-22T10:00:00.123456Z - INFO splitter.runner: started"


def test_a_records_machine_field_is_used() -> None:
    formatter = UtcFormatter("%(asctime)s %(machine)s %(message)s")
    assert formatter.format(make_record("hi", machine="beta")) == (
        "2026-11-22T10:00:00.123456Z beta hi"
    )


def test_a_format_without_the_timestamp_first_gets_it_put_in_front() -> None:
    formatter = UtcFormatter("%(machine)s %(levelname)s %(message)s")
    assert formatter.format(make_record("hi")) == "2026-11-22T10:00:00.123456Z - INFO hi"


def test_a_format_without_the_machine_gets_it_right_after_the_timestamp() -> None:
    formatter = UtcFormatter("%(asctime)s %(levelname)s %(message)s")
    assert formatter.format(make_record("hi", machine="beta")) == (
        "2026-11-22T10:00:00.123456Z beta INFO hi"
    )


def test_a_format_without_timestamp_and_machine_gets_both_in_front() -> None:
    formatter = UtcFormatter("%(message)s")
    assert formatter.format(make_record("hi")) == "2026-11-22T10:00:00.123456Z - hi"


def test_a_format_with_the_machine_elsewhere_keeps_it_there() -> None:
    formatter = UtcFormatter("%(asctime)s %(levelname)s [%(machine)s] %(message)s")
    assert formatter.format(make_record("hi", machine="gamma")) == (
        "2026-11-22T10:00:00.123456Z INFO [gamma] hi"
    )


def test_continuation_lines_and_tracebacks_are_indented() -> None:
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        record = logging.LogRecord(
            "job", logging.ERROR, __file__, 1, "job 3 failed\nsee below", (), None
        )
        record.exc_info = sys.exc_info()
    record.created = WHEN
    lines = UtcFormatter("%(asctime)s %(machine)s %(message)s").format(record).split("\n")
    assert lines[:3] == [
        "2026-11-22T10:00:00.123456Z - job 3 failed",
        "  see below",
        "  Traceback (most recent call last):",
    ]
    assert lines[-2:] == ["  ValueError: bad", "  value"]
    assert all(line.startswith("  ") for line in lines[1:])


def test_the_handler_buffers_until_flush_and_flushes_on_close(
    tmp_path: Path, logger: logging.Logger
) -> None:
    handler = ZstdLogHandler(LogFileWriter(tmp_path, 1 << 20))
    logger.addHandler(handler)
    logger.info("one")
    assert (tmp_path / "log.zst").stat().st_size == 0
    handler.flush()
    assert frames_text(tmp_path / "log.zst").endswith(" - INFO splitter.test_logfile: one\n")
    logger.warning("two\nlines")
    handler.close()
    records = [text.split(" ", 1)[1] for _, text in read_log_records([tmp_path / "log.zst"])]
    assert records == [
        "- INFO splitter.test_logfile: one",
        "- WARNING splitter.test_logfile: two\n  lines",
    ]


def test_a_full_log_is_rotated_to_numbered_parts_oldest_first(tmp_path: Path) -> None:
    writer = LogFileWriter(tmp_path, max_file_size=1)
    for number in range(12):
        writer.write(f"2026-11-22T10:00:{number:02d}.000000Z alpha record {number}\n")
        writer.flush()
    writer.write("2026-11-22T10:01:00.000000Z alpha last\n")
    writer.close()
    parts = log_parts(tmp_path)
    assert [p.name for p in parts] == [*(f"log.{k}.zst" for k in range(1, 14)), "log.zst"]
    assert parts[-1].stat().st_size == 0  # closing flushed the last record, then rotated
    texts = [text for _, text in read_log_records(parts)]
    assert texts == [
        *(f"2026-11-22T10:00:{n:02d}.000000Z alpha record {n}" for n in range(12)),
        "2026-11-22T10:01:00.000000Z alpha last",
    ]


def test_rotation_takes_the_number_after_the_largest_part(tmp_path: Path) -> None:
    (tmp_path / "log.3.zst").write_bytes(b"")
    (tmp_path / "log.notes.zst").write_bytes(b"")
    writer = LogFileWriter(tmp_path, max_file_size=10)
    writer.write("x\n")
    writer.flush()
    writer.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "log.3.zst",
        "log.4.zst",
        "log.notes.zst",
        "log.zst",
    ]
    assert [p.name for p in log_parts(tmp_path)] == ["log.3.zst", "log.4.zst", "log.zst"]


def test_log_below_its_size_limit_is_not_rotated(tmp_path: Path) -> None:
    writer = LogFileWriter(tmp_path, max_file_size=1 << 20)
    writer.write("2026-11-22T10:00:00.000000Z a\n")
    writer.flush()
    writer.flush()
    writer.close()
    assert [p.name for p in log_parts(tmp_path)] == ["log.zst"]
    assert len(list(FrameReader(tmp_path / "log.zst"))) == 1


def test_a_size_limit_of_zero_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_file_size must be greater than 0, not 0"):
        LogFileWriter(tmp_path, 0)


def test_records_are_grouped_across_frames_and_damage_is_reported(tmp_path: Path) -> None:
    writer = LogFileWriter(tmp_path, max_file_size=1 << 20)
    writer.write("2026-11-22T10:00:00.000000Z a first\n  more of first\n")
    writer.flush()
    writer.write("  still first\n2026-11-22T10:00:01.000000Z a second\n")
    writer.flush()
    writer.write("2026-11-22T10:00:02.000000Z a lost in the cut\n")
    writer.close()
    path = tmp_path / "log.zst"
    path.write_bytes(path.read_bytes()[:-4])
    records = read_log_records([path])
    assert list(records) == [
        (
            "2026-11-22T10:00:00.000000Z",
            "2026-11-22T10:00:00.000000Z a first\n  more of first\n  still first",
        ),
        ("2026-11-22T10:00:01.000000Z", "2026-11-22T10:00:01.000000Z a second"),
    ]
    assert len(records.damage) == 1
    assert records.damage[0][0] == path
    assert records.damage[0][1].startswith("cut off mid-frame: ")


def test_lines_before_the_first_record_get_an_empty_timestamp(tmp_path: Path) -> None:
    writer = LogFileWriter(tmp_path, max_file_size=1 << 20)
    writer.write("  orphan\n2026-11-22T10:00:00.000000Z a x\n")
    writer.close()
    assert list(read_log_records([tmp_path / "log.zst"])) == [
        ("", "  orphan"),
        ("2026-11-22T10:00:00.000000Z", "2026-11-22T10:00:00.000000Z a x"),
    ]


def test_an_empty_folder_has_no_log_parts(tmp_path: Path) -> None:
    assert log_parts(tmp_path) == []


@settings(max_examples=50)
@given(st.lists(st.text(), min_size=1, max_size=8))
def test_any_messages_round_trip_as_records(messages: list[str]) -> None:
    formatter = UtcFormatter("%(asctime)s %(message)s")
    formatted = [formatter.format(make_record(message)) for message in messages]
    with tempfile.TemporaryDirectory() as folder:
        writer = LogFileWriter(Path(folder), max_file_size=200)
        for text in formatted:
            writer.write(text + "\n")
            writer.flush()
        writer.close()
        records = read_log_records(log_parts(Path(folder)))
        assert list(records) == [("2026-11-22T10:00:00.123456Z", text) for text in formatted]
        assert records.damage == []


@pytest.fixture
def small_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames of 100 bytes of payload and at most 4000; records of at most 600 characters."""
    monkeypatch.setattr(frames, "FRAME_BYTES", 100)
    monkeypatch.setattr(frames, "MAX_FRAME_BYTES", 4000)
    monkeypatch.setattr(logfile, "MAX_RECORD_CHARS", 600)


@pytest.mark.usefixtures("small_frames")
def test_a_record_too_large_for_a_frame_keeps_its_head_and_tail_and_its_neighbours(
    tmp_path: Path, logger: logging.Logger
) -> None:
    handler = ZstdLogHandler(LogFileWriter(tmp_path, 1 << 20))
    logger.addHandler(handler)
    logger.info("before")
    logger.error("huge %s", "x" * 10_000 + "\nthe end of it")
    logger.info("after")
    handler.close()
    records = [text for _, text in read_log_records([tmp_path / "log.zst"])]
    assert len(records) == 3
    assert records[0].endswith(" - INFO splitter.test_logfile: before")
    assert records[2].endswith(" - INFO splitter.test_logfile: after")
    # 600 characters kept: the first 350 (600 less a quarter less 100), the last 150.
    head, cut, *tail = records[1].split("\n")
    prefix = head[: head.index("huge ") + 5]
    assert prefix.endswith(" - ERROR splitter.test_logfile: huge ")
    assert head == prefix + "x" * (350 - len(prefix))
    written = len(prefix) + 10_000 + len("\n  the end of it\n")
    assert cut == f"  [... {written - 350 - 150:,} characters of this record cut ...]"
    assert tail == ["  " + "x" * (150 - len("\n  the end of it\n")), "  the end of it"]


@pytest.mark.usefixtures("small_frames")
def test_a_flush_bigger_than_a_frame_is_cut_into_frames_of_whole_lines(tmp_path: Path) -> None:
    writer = LogFileWriter(tmp_path, max_file_size=1 << 20)
    lines = [f"2026-11-22T10:00:{n:02d}.000000Z alpha record {n}\n" for n in range(30)]
    for line in lines:
        writer.write(line)
    writer.close()
    payloads = list(FrameReader(tmp_path / "log.zst"))
    assert len(payloads) > 5 and all(len(payload) <= 100 for payload in payloads)
    assert all(payload.endswith(b"\n") for payload in payloads)
    assert b"".join(payloads).decode() == "".join(lines)


@pytest.mark.usefixtures("small_frames")
def test_reading_a_record_longer_than_writers_write_keeps_only_its_head(tmp_path: Path) -> None:
    with frames.FrameWriter(tmp_path / "log.zst") as out:  # a crafted log: many frames
        out.write_frame(b"2026-11-22T10:00:00.000000Z alpha begins\n")
        for _ in range(60):
            out.write_frame(b"  " + b"y" * 97 + b"\n")
        out.write_frame(b"2026-11-22T10:00:01.000000Z alpha next\n")
    records = [text for _, text in read_log_records([tmp_path / "log.zst"])]
    assert records[1] == "2026-11-22T10:00:01.000000Z alpha next"
    lines = records[0].split("\n")
    kept = "\n".join(lines[:-1])
    assert lines[0] == "2026-11-22T10:00:00.000000Z alpha begins"
    assert len(kept) == 4000  # as many characters as a frame may hold bytes
    # 41 characters of the first line and 60 of 100 (each with its newline)
    cut = 41 + 60 * 100 - len(kept) - 1
    assert lines[-1] == f"  [... {cut:,} more characters of this record not read ...]"


def test_the_longest_record_kept_fits_in_one_frame_whatever_its_characters() -> None:
    assert logfile.MAX_RECORD_CHARS * 6 + 100 <= frames.MAX_FRAME_BYTES


def test_a_record_of_unpaired_surrogates_too_long_for_a_frame_is_kept_in_bounded_form(
    tmp_path: Path,
) -> None:
    writer = LogFileWriter(tmp_path, max_file_size=1 << 30)
    record = "2026-11-22T10:00:00.000000Z alpha " + "\udc80" * 800_000  # 4.8 MB escaped
    writer.write(record + "\n")
    writer.close()
    [(_, text)] = list(read_log_records([tmp_path / "log.zst"]))
    assert text.startswith("2026-11-22T10:00:00.000000Z alpha \\udc80")
    assert " characters of this record cut ...]" in text
