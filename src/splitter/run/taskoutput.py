"""A shell task's output: bounded for the host's log, kept whole on request.

Runs in a worker process. Each stream (stdout, stderr) of a task is fed in
chunks as it arrives; the log gets its first and last ``LOG_BYTES`` bytes, each
line prefixed with the job id, and a note of what was cut between them. The
first bytes' lines are logged as they arrive, so a task killed for its
timeout (with its worker) leaves them in the log. With
``[tasks] keep_output = true`` the whole stream is also compressed into
``OUT/<machine>/tasks/<id>.<out|err>.zst`` (written aside, then renamed).
"""

from __future__ import annotations

import logging
import os
from collections import deque
from pathlib import Path
from typing import Any

__all__ = ["LOG_BYTES", "StreamCapture"]

LOG_BYTES = 64 * 1024

log = logging.getLogger("splitter.task")


class StreamCapture:
    """One stream of one task: head and tail for the log, the whole for its keep file."""

    def __init__(self, job_id: int, name: str, keep: Path | None, level: int = 3) -> None:
        self.job_id = job_id
        self.name = name
        self.total = 0
        self._head = bytearray()
        self._logged = 0  # How much of the head is logged already: whole lines.
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self._keep = keep
        self._level = level
        self._file: Any = None
        self._compressor: Any = None

    def feed(self, data: bytes) -> None:
        """Take the next chunk of the stream."""
        self.total += len(data)
        if self._keep is not None:
            self._write(data)
        room = LOG_BYTES - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
            end = self._head.rfind(b"\n", self._logged) + 1
            if end > self._logged:
                self._log_text(bytes(self._head[self._logged : end]))
                self._logged = end
        if data:
            self._tail.append(data)
            self._tail_size += len(data)
            while self._tail_size - len(self._tail[0]) >= LOG_BYTES:
                self._tail_size -= len(self._tail.popleft())

    def last_line(self) -> str:
        """The stream's last non-blank line (stderr's goes into the results' error)."""
        data = b"".join(self._tail)[-LOG_BYTES:] if self._tail else bytes(self._head)
        for line in reversed(data.splitlines()):
            if line.strip():
                return " ".join(line.decode("utf-8", "backslashreplace").split())
        return ""

    def log_lines(self) -> None:
        """Log the head, a note of the cut if any, and the tail, one record per line."""
        if not self.total:
            return
        tail = b"".join(self._tail)[-LOG_BYTES:]
        cut = self.total - len(self._head) - len(tail)
        rest = bytes(self._head[self._logged :])
        self._log_text(rest if cut or not tail else rest + tail)
        if cut:
            where = "is in its keep file" if self._keep else "is kept with [tasks] keep_output"
            log.info(
                "job %d %s: ... %d bytes cut here (the first and last %d are logged; the whole "
                "%s) ...", self.job_id, self.name, cut, LOG_BYTES, where,
            )  # fmt: skip
            self._log_text(tail)

    def _log_text(self, data: bytes) -> None:
        text = data.decode("utf-8", "backslashreplace")
        for line in text.splitlines():
            log.info("job %d %s: %s", self.job_id, self.name, line)

    def close(self) -> None:
        """Finish the keep file: complete its frame, then rename it into place."""
        if self._file is None:
            return
        assert self._keep is not None
        self._file.write(self._compressor.flush())
        self._file.close()
        os.replace(self._temporary(), self._keep)
        self._file = None

    def discard(self) -> None:
        """Drop an unfinished keep file (the task was stopped)."""
        if self._file is not None:
            self._file.close()
            self._temporary().unlink(missing_ok=True)
            self._file = None

    def _temporary(self) -> Path:
        assert self._keep is not None
        return self._keep.with_name(f".{self._keep.name}.{os.getpid()}.tmp")

    def _write(self, data: bytes) -> None:
        if self._file is None:
            import zstandard

            assert self._keep is not None
            self._keep.parent.mkdir(exist_ok=True)
            self._file = self._temporary().open("wb")
            compressor = zstandard.ZstdCompressor(level=self._level, write_checksum=True)
            self._compressor = compressor.compressobj()
        self._file.write(self._compressor.compress(data))
