"""The results writer at its limits: flushes bigger than a frame, textless values, full disks."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from splitter.store import frames, rowformat
from splitter.store.frames import FrameReader
from splitter.store.results import BASE_COLUMNS, ResultsReader, ResultsWriter

START = 1763805600.25
KEY = "0123456789abcdef" * 2


class Labels:
    """Every job's key is KEY and its input `item <id>`."""

    def key_text(self, job_id: int) -> str:
        return KEY

    def input(self, job_id: int) -> str:
        return f"item {job_id}"


@pytest.fixture
def small_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames of 1000 bytes of payload and at most 8000; rows of at most 4000 bytes."""
    monkeypatch.setattr(frames, "FRAME_BYTES", 1000)
    monkeypatch.setattr(frames, "MAX_FRAME_BYTES", 8000)
    monkeypatch.setattr(rowformat, "MAX_ROW_BYTES", 4000)


def rows_of(path: Path) -> dict[int, dict[str, str]]:
    reader = ResultsReader(path)
    rows = {int(row[0]): dict(zip(reader.header, row, strict=True)) for row in reader}
    assert reader.damage is None
    return rows


def payloads(path: Path) -> list[bytes]:
    reader = FrameReader(path)
    found = list(reader)
    assert reader.damage is None
    return found


@pytest.mark.usefixtures("small_frames")
def test_a_flush_bigger_than_a_frame_is_cut_into_frames_and_keeps_every_row(
    tmp_path: Path,
) -> None:
    path = tmp_path / "results.csv.zst"
    values = [{"s": f"row {n}\nwith a quoted line break, " + "x" * 300} for n in range(40)]
    with ResultsWriter(path, "alpha", None, Labels()) as writer:
        for job_id, value in enumerate(values):
            assert writer.add(job_id, "ok", START, 0.5, "", value) == "ok"
        assert writer.flush() == 40
    assert [row["s"] for row in rows_of(path).values()] == [value["s"] for value in values]
    sizes = [len(payload) for payload in payloads(path)]
    assert len(sizes) > 10 and max(sizes) <= 1000


@pytest.mark.usefixtures("small_frames")
def test_a_row_longer_than_a_frame_of_payload_is_a_frame_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    with ResultsWriter(path, "alpha", None, Labels()) as writer:
        writer.add(0, "ok", START, 0.5, "", {"s": "small"})
        writer.add(1, "ok", START, 0.5, "", {"s": "y" * 3000})
        writer.add(2, "ok", START, 0.5, "", {"s": "small"})
    assert [len(payload) > 3000 for payload in payloads(path)] == [False, True, False]
    assert len(rows_of(path)[1]["s"]) == 3000


@pytest.mark.usefixtures("small_frames")
def test_a_row_longer_than_a_row_may_be_is_an_error_row_written_within_a_frame(
    tmp_path: Path,
) -> None:
    path = tmp_path / "results.csv.zst"
    with ResultsWriter(path, "alpha", None, Labels()) as writer:
        assert writer.add(0, "ok", START, 0.5, "", {"s": "z" * 5000}) == "error"
        assert writer.add(1, "ok", START, 0.5, "", {"s": "small"}) == "ok"
        assert writer.add(2, "ok", START, 0.5, "", {"s": "z" * 5000}) == "error"
    rows = rows_of(path)
    assert [rows[job]["status"] for job in (0, 1, 2)] == ["error", "ok", "error"]
    assert rows[0]["error"] == rows[2]["error"]
    assert rows[0]["error"].startswith("the job's result makes a row of 5,")
    assert ResultsReader(path).header == (*BASE_COLUMNS, "s", "extra")


def test_a_first_row_whose_text_cannot_be_made_leaves_a_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    with ResultsWriter(path, "alpha", None, Labels()) as writer:
        assert writer.add(0, "ok", START, 0.5, "", 10**5000) == "error"
        assert writer.add(1, "ok", START, 0.5, "", {"x": 1}) == "ok"
    rows = rows_of(path)
    assert rows[0]["status"] == "error"
    assert rows[0]["error"].startswith("the job's result holds an int of more than 4,300 digits")
    assert (rows[1]["status"], rows[1]["x"]) == ("ok", "1")
    with ResultsWriter(path, "alpha", None, Labels()) as writer:  # the folder resumes
        writer.add(2, "ok", START, 0.5, "", {"x": 2})
    assert sorted(rows_of(path)) == [0, 1, 2]


def test_a_flush_with_nothing_added_writes_no_frame(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    with ResultsWriter(path, "alpha", None, Labels()) as writer:
        assert writer.flush() == 0
    assert path.stat().st_size == 0
    assert ResultsReader(path).header == ()


@pytest.mark.usefixtures("small_frames")
def test_a_failed_flush_writes_no_row_and_keeps_them_all_for_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "results.csv.zst"
    real_write = os.write
    writes = []

    def full_after_two(fd: int, data: bytes) -> int:
        writes.append(fd)
        if len(writes) > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    writer = ResultsWriter(path, "alpha", None, Labels())
    for job_id in range(20):
        writer.add(job_id, "ok", START, 0.5, "", {"s": "x" * 200})
    monkeypatch.setattr(os, "write", full_after_two)
    with pytest.raises(OSError, match="No space left on device"):
        writer.flush()
    monkeypatch.undo()
    assert (path.stat().st_size, writer.pending) == (0, 20)
    assert writer.flush() == 20
    writer.close()
    assert sorted(rows_of(path)) == list(range(20))


@pytest.mark.usefixtures("small_frames")
def test_a_copied_row_longer_than_a_row_may_be_here_is_not_copied(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    copied = {"machine": "beta", "start_time": "1.0", "duration": "2.0", "job_key": KEY}
    with ResultsWriter(path, "alpha", None, Labels()) as writer:
        assert writer.add_copied(0, {**copied, "s": "small"}, "elsewhere")
        assert not writer.add_copied(1, {**copied, "s": "w" * 5000}, "elsewhere")
        assert writer.pending == 1
    assert sorted(rows_of(path)) == [0]
