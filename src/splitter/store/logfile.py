"""Write and read OUT/<machine>/log.zst and its rotated parts log.1.zst, log.2.zst, ...

Each record is one line that starts with its UTC timestamp, then its
continuation lines (multi-line messages, tracebacks), each indented by two
spaces. So a record starts exactly at a line whose first character is not a
space, and `merge` can put many hosts' records in time order by comparing the
timestamps as text.

Like results, the log is a file of independent zstd frames (see
`splitter.store.frames`), a flush cut into frames at line ends. A record longer
than `MAX_RECORD_CHARS` (a job that logs a 300 MB string) is kept as its head
and its tail with a line saying how much was cut between them, so it never
costs a frame its neighbours; reading bounds a record too, so a crafted file
never costs a reader unbounded memory. When log.zst reaches its size limit
after a flush it becomes log.<k>.zst, k one more than the largest part so far,
so a smaller k is older; no part is ever deleted.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from splitter.store import frames as _frames
from splitter.store.frames import FrameReader, FrameWriter, line_pieces
from splitter.store.shield import atomic

__all__ = [
    "DEFAULT_FORMAT",
    "LOG_NAME",
    "MAX_RECORD_CHARS",
    "LogFileWriter",
    "LogRecords",
    "UtcFormatter",
    "ZstdLogHandler",
    "log_parts",
    "read_log_records",
]

DEFAULT_FORMAT = "%(asctime)s %(machine)s %(levelname)s %(name)s: %(message)s"
LOG_NAME = "log.zst"
_PART = re.compile(r"log\.([0-9]+)\.zst")
_TIMESTAMP_FIELD = "%(asctime)s "
# The most characters of one record kept. At 6 bytes a character at most (an
# unpaired surrogate, escaped) a record stays within frames.MAX_FRAME_BYTES.
MAX_RECORD_CHARS = 1 << 19
_MACHINE_FIELD = "%(machine)s"


class UtcFormatter(logging.Formatter):
    """Records as `2026-11-22T10:00:00.123456Z ...`, continuation lines indented by two spaces.

    A format that does not start with `%(asctime)s ` gets it put in front,
    because readers sort and group records by that first field; one that lacks
    `%(machine)s` gets it right after, because a merged log mixes many hosts'
    lines and each must name its machine. `%(machine)s` is '-' on records
    that no filter or adapter gave a machine.
    """

    def __init__(self, fmt: str | None = None) -> None:
        fmt = fmt or DEFAULT_FORMAT
        if not fmt.startswith(_TIMESTAMP_FIELD):
            fmt = _TIMESTAMP_FIELD + fmt
        if _MACHINE_FIELD not in fmt:
            fmt = f"{_TIMESTAMP_FIELD}{_MACHINE_FIELD} {fmt.removeprefix(_TIMESTAMP_FIELD)}"
        super().__init__(fmt, defaults={"machine": "-"})

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """UTC ISO 8601 with microseconds and 'Z'; `datefmt` is not used."""
        return datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def format(self, record: logging.LogRecord) -> str:
        """The record as text; every line after the first starts with two spaces."""
        return super().format(record).replace("\n", "\n  ")


class LogFileWriter:
    """Buffer log text and append it to `directory`/log.zst one frame per flush, rotating.

    Callers run `splitter.store.frames.repair_tail` on an existing log.zst first.
    """

    def __init__(self, directory: Path, max_file_size: int, level: int = 3) -> None:
        if max_file_size <= 0:
            raise ValueError(f"max_file_size must be greater than 0, not {max_file_size}")
        self.directory = directory
        self.max_file_size = max_file_size
        self._level = level
        self._buffer: list[str] = []
        self._frames = FrameWriter(directory / LOG_NAME, level)

    def write(self, text: str) -> None:
        """Buffer `text` (one record, newline-terminated) until the next flush.

        A record of more than MAX_RECORD_CHARS is cut to its head and its tail.
        """
        self._buffer.append(_bounded(text) if len(text) > MAX_RECORD_CHARS else text)

    def flush(self) -> None:
        """Append the buffered text as frames of whole lines, then rotate log.zst if it is full."""
        if not self._buffer:
            return
        data = "".join(self._buffer).encode("utf-8", "backslashreplace")
        with atomic():  # written and forgotten together: a signal must not write it twice
            self._frames.write_frames(line_pieces(data))
            self._buffer.clear()
        if self._frames.size >= self.max_file_size:
            self._rotate()

    def close(self) -> None:
        """Flush, fsync and close log.zst."""
        try:
            self.flush()
        finally:
            self._frames.close()

    def _rotate(self) -> None:
        self._frames.close()  # also fsyncs, and Windows cannot rename an open file
        numbers = [int(m[1]) for p in self.directory.iterdir() if (m := _PART.fullmatch(p.name))]
        part = self.directory / f"log.{max(numbers, default=0) + 1}.zst"
        os.rename(self.directory / LOG_NAME, part)  # the number is unused: never replaces
        self._frames = FrameWriter(self.directory / LOG_NAME, self._level)


class ZstdLogHandler(logging.Handler):
    """A logging handler that writes formatted records into a `LogFileWriter`.

    `emit` only buffers: the owner calls `flush()` at least every second (the
    runner does, with the results flush); `close()` flushes and closes the file.
    Without a formatter set, records are formatted by `UtcFormatter()`.
    """

    def __init__(self, writer: LogFileWriter, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.writer = writer
        self.setFormatter(UtcFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        """Format the record and buffer it (called with the handler's lock held)."""
        try:
            self.writer.write(self.format(record) + "\n")
        except Exception:  # logging's contract: a bad record must not break the caller
            self.handleError(record)

    def flush(self) -> None:
        """Write the buffered records to log.zst as one frame."""
        self.acquire()
        try:
            self.writer.flush()
        finally:
            self.release()

    def close(self) -> None:
        """Flush and close the log file, then detach the handler."""
        self.acquire()
        try:
            self.writer.close()
        finally:
            self.release()
            super().close()


def _bounded(record: str) -> str:
    """A record cut to about MAX_RECORD_CHARS: its head, a line saying what was cut, its tail.

    The tail keeps the end of a traceback (the exception and its message); the
    line in between is a continuation line, so the record stays one record.
    """
    if len(record) <= MAX_RECORD_CHARS:
        return record
    tail_chars = MAX_RECORD_CHARS // 4
    head = record[: MAX_RECORD_CHARS - tail_chars - 100].rstrip("\n")
    tail = record[-tail_chars:].lstrip("\n")
    cut = len(record) - len(head) - len(tail)
    return f"{head}\n  [... {cut:,} characters of this record cut ...]\n  {tail}"


def log_parts(directory: Path) -> list[Path]:
    """A folder's log files, oldest first: log.1.zst, log.2.zst, ..., log.zst."""
    numbered = sorted(
        (int(m[1]), p) for p in directory.iterdir() if (m := _PART.fullmatch(p.name))
    )
    parts = [path for _, path in numbered]
    if (directory / LOG_NAME).exists():
        parts.append(directory / LOG_NAME)
    return parts


class LogRecords:
    """Stream (timestamp, text) per record from log files read in order.

    `text` is the whole record, continuation lines included, without the
    final newline; `timestamp` its first field. After iteration, `damage`
    lists (path, what) for every file that did not end cleanly (see
    `FrameReader`). Lines before a file's first record, which a whole-record
    writer never produces, come out as a record with an empty timestamp.
    """

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = tuple(paths)
        self.damage: list[tuple[Path, str]] = []

    def __iter__(self) -> Iterator[tuple[str, str]]:
        self.damage = []
        for path in self.paths:
            frames = FrameReader(path)
            yield from _records(frames)
            if frames.damage is not None:
                self.damage.append((path, frames.damage))


def _records(frames: FrameReader) -> Iterator[tuple[str, str]]:
    """Group one file's lines into records; a record may span frames.

    A record is kept up to as many characters as a frame holds bytes, more
    than any writer's record (bounded, then escaped); the rest of a longer one
    (a crafted file) is counted in a last line.
    """
    most = _frames.MAX_FRAME_BYTES
    lines: list[str] = []
    kept = cut = 0
    for payload in frames:
        for line in _lines(payload.decode("utf-8", "replace")):
            if lines and not line.startswith(" "):
                yield _record(lines, cut)
                lines, kept, cut = [], 0, 0
            if kept < most:
                piece = line[: most - kept]
                lines.append(piece)
                kept += len(piece) + 1
                cut += len(line) - len(piece)
            else:
                cut += len(line) + 1
    if lines:
        yield _record(lines, cut)


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text``, without their newlines, one at a time (no list of them all)."""
    start = 0
    while (end := text.find("\n", start)) >= 0:
        yield text[start:end]
        start = end + 1
    if start < len(text):
        yield text[start:]


def _record(lines: list[str], cut: int) -> tuple[str, str]:
    first = lines[0]
    timestamp = "" if first.startswith(" ") else first.partition(" ")[0]
    if cut:
        lines.append(f"  [... {cut:,} more characters of this record not read ...]")
    return timestamp, "\n".join(lines)


def read_log_records(paths: Sequence[Path]) -> LogRecords:
    """Records of `paths` read in order (use `log_parts` for one folder); see `LogRecords`."""
    return LogRecords(paths)
