"""Tests for splitter.store.frames: append-only zstd frame files, their reader and tail repair."""

from __future__ import annotations

import os
import re
import tempfile
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from splitter.errors import ConfigError
from splitter.store import frames as frames_module
from splitter.store.frames import (
    MAX_FRAME_BYTES,
    CorruptFileError,
    FrameReader,
    FrameWriter,
    TailRepair,
    _FrameWalk,
    line_pieces,
    repair_tail,
)

PAYLOADS = [b"job_id,status\n", b"1,ok\n" * 300, b"", b"2,error\n"]


def write_frames(path: Path, payloads: list[bytes]) -> list[int]:
    """Write the payloads as frames; return the file size after each frame."""
    ends = []
    with FrameWriter(path) as writer:
        for payload in payloads:
            writer.write_frame(payload)
            ends.append(writer.size)
    return ends


def read_all(path: Path, chunk_size: int = 1 << 20) -> tuple[list[bytes], FrameReader]:
    reader = FrameReader(path, chunk_size)
    return list(reader), reader


@settings(max_examples=50)
@given(
    payloads=st.lists(st.binary(max_size=3000), max_size=6),
    chunk_size=st.integers(min_value=1, max_value=5000),
)
def test_frames_round_trip_in_any_chunk_size(payloads: list[bytes], chunk_size: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.zst"
        write_frames(path, payloads)
        frames, reader = read_all(path, chunk_size)
        assert frames == payloads
        assert reader.damage is None
        assert reader.complete_bytes == reader.total_bytes == path.stat().st_size


def test_each_frame_is_independent_with_content_size_and_checksum(tmp_path: Path) -> None:
    path = tmp_path / "f.zst"
    ends = write_frames(path, [b"one", b"two"])
    data = path.read_bytes()
    second = zstandard.get_frame_parameters(data[ends[0] :])
    assert second.content_size == 3
    assert second.has_checksum
    assert zstandard.ZstdDecompressor().decompress(data[ends[0] :]) == b"two"


def test_writer_appends_to_an_existing_file_and_counts_its_size(tmp_path: Path) -> None:
    path = tmp_path / "f.zst"
    ends = write_frames(path, [b"first"])
    with FrameWriter(path) as writer:
        assert writer.size == ends[0]
        writer.write_frame(b"second")
        writer.sync()
        assert writer.size == path.stat().st_size
    assert read_all(path)[0] == [b"first", b"second"]


def test_writer_finishes_a_frame_across_partial_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data)[:3]))
    path = tmp_path / "f.zst"
    write_frames(path, [b"a payload longer than three bytes"])
    monkeypatch.undo()
    assert read_all(path)[0] == [b"a payload longer than three bytes"]


def test_a_failed_write_leaves_no_partial_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f.zst"
    ends = write_frames(path, [b"kept"])
    real_write = os.write
    calls = []

    def write_then_fail(fd: int, data: bytes) -> int:
        calls.append(fd)
        if len(calls) > 1:
            raise OSError(28, "No space left on device")
        return real_write(fd, bytes(data)[:5])

    with FrameWriter(path) as writer:
        monkeypatch.setattr(os, "write", write_then_fail)
        with pytest.raises(OSError, match="No space left"):
            writer.write_frame(b"lost in a full disk")
        monkeypatch.undo()
        assert writer.size == ends[0]
    assert path.stat().st_size == ends[0]
    assert read_all(path)[1].damage is None


def test_writing_after_close_is_refused(tmp_path: Path) -> None:
    writer = FrameWriter(tmp_path / "f.zst")
    writer.close()
    writer.close()
    with pytest.raises(ValueError, match=r"FrameWriter for .*f\.zst is closed"):
        writer.write_frame(b"x")


def test_an_empty_file_has_no_frames_and_no_damage(tmp_path: Path) -> None:
    path = tmp_path / "f.zst"
    path.touch()
    frames, reader = read_all(path)
    assert frames == []
    assert (reader.damage, reader.complete_bytes, reader.total_bytes) == (None, 0, 0)


def test_a_file_cut_anywhere_in_its_last_frame_reads_the_earlier_frames(tmp_path: Path) -> None:
    whole = tmp_path / "whole.zst"
    ends = write_frames(whole, PAYLOADS)
    data = whole.read_bytes()
    last_start = ends[-2]
    cut_path = tmp_path / "cut.zst"
    for cut in range(last_start + 1, len(data)):
        cut_path.write_bytes(data[:cut])
        frames, reader = read_all(cut_path, chunk_size=64)
        assert frames == PAYLOADS[:-1], cut
        assert reader.complete_bytes == last_start
        assert reader.total_bytes == cut
        assert reader.damage == (
            f"cut off mid-frame: {cut - last_start} bytes after the last whole frame"
            f" at byte {last_start} (a crash, or a run still writing it)"
        )


def test_a_file_cut_inside_its_first_frame_reads_no_frames(tmp_path: Path) -> None:
    path = tmp_path / "f.zst"
    write_frames(path, [b"x" * 100])
    path.write_bytes(path.read_bytes()[:2])
    frames, reader = read_all(path)
    assert frames == []
    assert reader.damage == (
        "cut off mid-frame: 2 bytes after the last whole frame at byte 0"
        " (a crash, or a run still writing it)"
    )


def test_a_bad_checksum_stops_reading_at_that_frame(tmp_path: Path) -> None:
    path = tmp_path / "f.zst"
    ends = write_frames(path, [b"one", b"two", b"three"])
    data = bytearray(path.read_bytes())
    data[ends[1] - 1] ^= 0xFF  # last checksum byte of the second frame
    path.write_bytes(bytes(data))
    frames, reader = read_all(path)
    assert frames == [b"one"]
    assert reader.complete_bytes == ends[0]
    assert reader.damage == (
        "undecodable frame (decompression error: Restored data doesn't match checksum)"
        f" at byte {ends[0]}"
    )


def test_garbage_after_the_frames_is_damage_at_its_offset(tmp_path: Path) -> None:
    path = tmp_path / "f.zst"
    ends = write_frames(path, [b"one"])
    with open(path, "ab") as f:
        f.write(b"job_id,status\n")
    frames, reader = read_all(path)
    assert frames == [b"one"]
    assert reader.damage == f"not a zstd frame at byte {ends[0]}"


def test_a_file_that_is_not_zstd_is_a_corrupt_file_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = Path("results/alpha/results.csv.zst")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"job_id,machine,status\n1,alpha,ok\n")
    with pytest.raises(CorruptFileError) as caught:
        list(FrameReader(path))
    assert str(caught.value) == (
        "results/alpha/results.csv.zst is not a zstd file (it starts with b'job_');"
        " restore the file splitter wrote there, or move this one aside"
    )
    assert isinstance(caught.value, ConfigError)
    assert caught.value.exit_code == 2


def test_a_tiny_file_that_is_not_zstd_is_a_corrupt_file_error(tmp_path: Path) -> None:
    path = tmp_path / "f.zst"
    path.write_bytes(b"jo")
    with pytest.raises(CorruptFileError, match=r"is not a zstd file \(it starts with b'jo'\)"):
        list(FrameReader(path))


def test_a_live_file_reads_up_to_its_last_whole_frame(tmp_path: Path) -> None:
    path = tmp_path / "f.zst"
    with FrameWriter(path) as writer:
        writer.write_frame(b"done")
        done = writer.size
        half = zstandard.ZstdCompressor().compress(b"in flight" * 50)[:10]
        with open(path, "ab") as f:  # what a reader sees mid-write
            f.write(half)
        frames, reader = read_all(path)
    assert frames == [b"done"]
    assert reader.damage == (
        f"cut off mid-frame: 10 bytes after the last whole frame at byte {done}"
        " (a crash, or a run still writing it)"
    )


def test_repair_tail_of_a_clean_file_does_nothing(tmp_path: Path) -> None:
    path = tmp_path / "f.zst"
    write_frames(path, PAYLOADS)
    before = path.read_bytes()
    assert repair_tail(path) is None
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.zst"]


def test_repair_tail_keeps_the_cut_bytes_and_appending_then_works(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    ends = write_frames(path, PAYLOADS)
    data = path.read_bytes()
    path.write_bytes(data[: ends[-1] - 3])
    repair = repair_tail(path)
    assert repair is not None
    assert repair.path == path
    assert repair.cut_bytes == ends[-1] - 3 - ends[-2]
    assert re.fullmatch(r"results\.csv\.zst\.damaged-\d{8}T\d{6}Z", repair.saved_to.name)
    assert repair.saved_to.parent == tmp_path
    assert repair.saved_to.read_bytes() == data[ends[-2] : ends[-1] - 3]
    assert path.stat().st_size == ends[-2]
    with FrameWriter(path) as writer:
        writer.write_frame(b"after repair")
    frames, reader = read_all(path)
    assert frames == [*PAYLOADS[:-1], b"after repair"]
    assert reader.damage is None


def test_repair_tail_never_overwrites_an_earlier_damaged_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class FrozenClock:
        @staticmethod
        def now(tz: object) -> datetime:
            return datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)

    monkeypatch.setattr("splitter.store.frames.datetime", FrozenClock)
    path = tmp_path / "log.zst"
    ends = write_frames(path, [b"kept"])
    saved = []
    for garbage in (b"\x28\xb5", b"\x28\xb5\x2f"):
        with open(path, "ab") as f:
            f.write(garbage)
        repair = repair_tail(path)
        assert repair is not None
        saved.append((repair.saved_to.name, repair.saved_to.read_bytes()))
    assert saved == [
        ("log.zst.damaged-20261122T100000Z", b"\x28\xb5"),
        ("log.zst.damaged-20261122T100000Z-2", b"\x28\xb5\x2f"),
    ]
    assert path.stat().st_size == ends[0]


def test_repair_tail_refuses_a_file_that_is_not_zstd(tmp_path: Path) -> None:
    path = tmp_path / "f.zst"
    path.write_bytes(b"plain text")
    with pytest.raises(CorruptFileError):
        repair_tail(path)
    assert path.read_bytes() == b"plain text"


def test_tail_repair_is_plain_frozen_data(tmp_path: Path) -> None:
    repair = TailRepair(path=tmp_path / "a", cut_bytes=3, saved_to=tmp_path / "b")
    with pytest.raises(AttributeError):
        repair.cut_bytes = 4  # type: ignore[misc]


def test_frames_of_many_blocks_read_in_small_chunks(tmp_path: Path) -> None:
    payloads = [os.urandom(300_000), b"\0" * 400_000, b"abc" * 100_000]
    path = tmp_path / "f.zst"
    write_frames(path, payloads)
    frames, reader = read_all(path, chunk_size=1000)
    assert frames == payloads
    assert reader.damage is None


def frame_of_blocks(blocks: list[bytes]) -> bytes:
    """A frame without content size or checksum (descriptor 0: a window byte follows)."""
    return b"\x28\xb5\x2f\xfd\x00\x58" + b"".join(blocks)


def rle_block(size: int, last: bool = False) -> bytes:
    return ((size << 3) | (1 << 1) | int(last)).to_bytes(3, "little") + b"x"


def raw_block(data: bytes, last: bool = False) -> bytes:
    return ((len(data) << 3) | int(last)).to_bytes(3, "little") + data


def test_a_decompression_bomb_is_damage_found_before_decompressing(tmp_path: Path) -> None:
    # 8 KB of RLE blocks that would decompress to 257 MiB.
    blocks = [rle_block(zstandard.BLOCKSIZE_MAX) for _ in range(2056)] + [rle_block(1, True)]
    path = tmp_path / "bomb.zst"
    path.write_bytes(frame_of_blocks(blocks))
    tracemalloc.start()
    try:
        frames, reader = read_all(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert frames == []
    assert (
        reader.damage == f"frame that would decompress to over {MAX_FRAME_BYTES} bytes at byte 0"
    )
    assert peak < 16 << 20


def test_a_frame_up_to_the_limit_still_reads(tmp_path: Path) -> None:
    blocks = [rle_block(zstandard.BLOCKSIZE_MAX) for _ in range(7)] + [rle_block(5, True)]
    path = tmp_path / "rle.zst"
    path.write_bytes(frame_of_blocks(blocks))
    frames, reader = read_all(path, chunk_size=7)
    assert frames == [b"x" * (7 * zstandard.BLOCKSIZE_MAX + 5)]
    assert reader.damage is None


def test_the_writer_refuses_a_frame_readers_would_refuse(tmp_path: Path) -> None:
    with FrameWriter(tmp_path / "f.zst") as writer, pytest.raises(ValueError, match="at most"):
        writer.write_frame(bytes(MAX_FRAME_BYTES + 1))
    assert (tmp_path / "f.zst").stat().st_size == 0


def test_a_frame_of_empty_blocks_is_damage_at_its_first_empty_block(tmp_path: Path) -> None:
    path = tmp_path / "empty-blocks.zst"
    path.write_bytes(frame_of_blocks([raw_block(b"")] * 100_000 + [raw_block(b"", True)]))
    frames, reader = read_all(path, chunk_size=4096)
    assert frames == []
    assert reader.damage == "undecodable frame (an empty block before the last) at byte 0"


def test_the_frame_walk_resumes_where_it_stopped_instead_of_walking_again() -> None:
    head = frame_of_blocks([rle_block(4), rle_block(4)])
    walk = _FrameWalk()
    buf = bytearray(head)
    assert walk.length(buf, 0) is None
    # Spoil the blocks already walked: a walk from the start would now see damage.
    buf[6:] = b"\xff" * (len(buf) - 6)
    buf += rle_block(2, last=True)
    assert walk.length(buf, 0) == len(buf)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_at_once_instead_of_blocking(tmp_path: Path) -> None:
    path = tmp_path / "log.zst"
    os.mkfifo(path)
    message = f"{path} is a FIFO (named pipe), not a regular file; splitter reads only"
    with pytest.raises(CorruptFileError, match=re.escape(message)):
        read_all(path)


def test_a_folder_is_refused_as_not_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "results.csv.zst").mkdir()
    message = f"{tmp_path / 'results.csv.zst'} is a folder, not a regular file"
    with pytest.raises(CorruptFileError, match=re.escape(message)):
        read_all(tmp_path / "results.csv.zst")


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="no /proc/self/mem here")
def test_a_link_to_an_unreadable_special_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    path.symlink_to("/proc/self/mem")
    with pytest.raises(CorruptFileError, match=re.escape(f"{path} cannot be read (")):
        read_all(path)


@pytest.fixture
def small_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames of 100 bytes of payload, lines of at most 400: large flushes in a few rows."""
    monkeypatch.setattr(frames_module, "FRAME_BYTES", 100)
    monkeypatch.setattr(frames_module, "MAX_FRAME_BYTES", 400)


@pytest.mark.usefixtures("small_frames")
def test_a_flush_is_cut_into_pieces_at_line_ends() -> None:
    data = b"".join(b"%02d %s\n" % (n, b"x" * 26) for n in range(10))  # lines of 30 bytes
    pieces = [bytes(piece) for piece in line_pieces(data)]
    assert b"".join(pieces) == data
    assert [len(piece) for piece in pieces] == [90, 90, 90, 30]
    assert all(piece.endswith(b"\n") for piece in pieces)


@pytest.mark.usefixtures("small_frames")
def test_a_csv_flush_is_cut_only_between_rows_never_inside_a_quoted_cell() -> None:
    row = b'1,"a cell with\nnewlines\nand ""quotes""\n",' + b"y" * 40 + b"\n"
    data = row * 5
    pieces = [bytes(piece) for piece in line_pieces(data, csv=True)]
    assert pieces == [row, row, row, row, row]


@pytest.mark.usefixtures("small_frames")
def test_a_line_longer_than_a_piece_is_a_piece_of_its_own() -> None:
    long = b'2,"' + b"z\n" * 100 + b'"\n'
    data = b"1,short\n" + long + b"3,short\n"
    pieces = [bytes(piece) for piece in line_pieces(data, csv=True)]
    assert pieces == [b"1,short\n", long, b"3,short\n"]


@pytest.mark.usefixtures("small_frames")
def test_a_line_longer_than_any_frame_is_refused() -> None:
    with pytest.raises(ValueError, match="a line of 501 bytes is longer than a frame may be"):
        line_pieces(b"a" * 500 + b"\n")


@settings(max_examples=100)
@given(
    cells=st.lists(
        st.lists(st.text(alphabet='ab,"\n', max_size=30), min_size=1, max_size=4), max_size=30
    )
)
def test_csv_pieces_hold_whole_rows_and_lose_nothing(cells: list[list[str]]) -> None:
    import csv
    import io

    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(cells)
    data = text.getvalue().encode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(frames_module, "FRAME_BYTES", 40)
        pieces = [bytes(piece) for piece in line_pieces(data, csv=True)]
    assert b"".join(pieces) == data
    rows = [row for piece in pieces for row in csv.reader(io.StringIO(piece.decode()))]
    assert rows == cells


def test_write_frames_writes_every_frame_or_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f.zst"
    ends = write_frames(path, [b"kept"])
    real_write = os.write
    calls = []

    def third_write_fails(fd: int, data: bytes) -> int:
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    with FrameWriter(path) as writer:
        monkeypatch.setattr(os, "write", third_write_fails)
        with pytest.raises(OSError, match="No space left"):
            writer.write_frames([b"one", b"two", b"three"])
        monkeypatch.undo()
        assert writer.size == ends[0]
        writer.write_frames([b"one", b"two"])
    assert read_all(path)[0] == [b"kept", b"one", b"two"]
