"""One run at a time per output folder: an OS file lock on OUT/<machine>/run.lock.

Two runs appending to one results file would interleave header frames and
record jobs twice. A run holds an exclusive ``flock`` (POSIX; ``msvcrt``
byte lock on Windows) on ``run.lock`` inside its folder for as long as it
runs, with its pid and host written in the file, so a second run refuses at
once and says who holds the folder. The OS drops the lock when the process
ends, ``kill -9`` included: a stale lock file never blocks a resume.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from types import TracebackType

from splitter.errors import ConfigError

__all__ = ["LOCK_NAME", "FolderLock"]

LOCK_NAME = "run.lock"


class FolderLock:
    """Holds ``folder``/run.lock exclusively from ``acquire`` to ``release`` (or as ``with``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        """Create the folder if needed and lock it, or raise ConfigError naming the holder.

        Calling it again while holding the lock moves the lock to the folder's
        current run.lock (after the old folder was moved aside), then lets go
        of the old one.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = _locked_fd(self.folder / LOCK_NAME)
        previous, self._fd = self._fd, fd
        if previous is not None:
            os.close(previous)
        return self

    def release(self) -> None:
        """Let go of the lock; the file stays (another run may already hold it)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor releases the OS lock

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def _locked_fd(path: Path) -> int:
    """An open descriptor of ``path`` holding its exclusive lock, with our pid and host in it."""
    # Never truncate before holding the lock: the text names the holder.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
    try:
        if not _try_lock(fd):
            raise ConfigError(
                f"{path.parent} is in use by another run ({_holder(fd)}); wait for it to end"
                " or stop it, or pass another --out"
            )
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"pid {os.getpid()} on host {socket.gethostname()}\n".encode())
    except BaseException:
        os.close(fd)
        raise
    return fd


def _holder(fd: int) -> str:
    """What the holder wrote in the lock file (Windows may refuse to read a locked byte)."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 200).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "holder unknown"


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock without waiting; False when another process holds it."""
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
