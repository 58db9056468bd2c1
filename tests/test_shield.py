"""Tests for splitter.store.shield: a signal never cuts a frame write from its bookkeeping."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from labels import LABELS
from splitter.run.runner import _interrupts
from splitter.store import frames
from splitter.store.logfile import LOG_NAME, LogFileWriter, read_log_records
from splitter.store.results import ResultsReader, ResultsWriter
from splitter.store.shield import atomic, raise_or_defer


class _StoppingEngine:
    """As much of an Engine as the runner's signal handler reads: already stopping."""

    stopping = True

    def request_stop(self) -> None:
        raise AssertionError("a stopping engine is not asked to stop again")


def _signal_after_each_write(monkeypatch: pytest.MonkeyPatch, signum: int) -> None:
    """SIGTERM (or a second Ctrl-C) arrives right after every os.write of a frame."""
    real_write: Callable[[int, bytes], int] = os.write

    def write_then_signal(fd: int, data: bytes) -> int:
        written = real_write(fd, data)
        signal.raise_signal(signum)
        return written

    monkeypatch.setattr(frames.os, "write", write_then_signal)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_right_after_a_results_frame_write_does_not_duplicate_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int
) -> None:
    path = tmp_path / "results.csv.zst"
    writer = ResultsWriter(path, "alpha", None, LABELS)
    for job_id in range(3):
        writer.add(job_id, "ok", 1.0, 0.5, "", {"x": job_id})
    _signal_after_each_write(monkeypatch, signum)
    with _interrupts(_StoppingEngine()), pytest.raises(KeyboardInterrupt):  # type: ignore[arg-type]
        writer.flush()
    monkeypatch.undo()
    writer.close()
    assert [row[0] for row in ResultsReader(path)] == ["0", "1", "2"]


def test_a_signal_right_after_a_log_frame_write_does_not_duplicate_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = LogFileWriter(tmp_path, 1 << 20)
    writer.write("2026-01-01T00:00:00.000000Z alpha MainProcess INFO one\n")
    _signal_after_each_write(monkeypatch, signal.SIGTERM)
    with _interrupts(_StoppingEngine()), pytest.raises(KeyboardInterrupt):  # type: ignore[arg-type]
        writer.flush()
    monkeypatch.undo()
    writer.close()
    lines = [text for _, text in read_log_records([tmp_path / LOG_NAME])]
    assert lines == ["2026-01-01T00:00:00.000000Z alpha MainProcess INFO one"]


def test_raise_or_defer_raises_at_once_outside_an_atomic_step() -> None:
    with pytest.raises(KeyboardInterrupt):
        raise_or_defer(KeyboardInterrupt())


def test_an_exception_deferred_in_nested_steps_is_raised_once_at_the_outer_end() -> None:
    done: list[str] = []
    with pytest.raises(KeyboardInterrupt), atomic():
        with atomic():
            raise_or_defer(KeyboardInterrupt())
            done.append("inner")
        done.append("outer")
    assert done == ["inner", "outer"]
    with atomic():
        done.append("next")  # nothing is left pending
    assert done == ["inner", "outer", "next"]
