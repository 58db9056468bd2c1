"""One run at a time per output folder: an OS file lock on OUT/<machine>/run.lock.

Two runs appending to one results file would interleave header frames and
record jobs twice. A run holds an exclusive ``flock`` (POSIX; ``msvcrt``
byte lock on Windows) on ``run.lock`` inside its folder for as long as it
runs, so a second run refuses at once. Once the folder is its own (resumed or
new, not refused), the run writes its pid and host in the file, and erases
them when it ends, so the refusal says who holds the folder; a refused run
changes nothing. The OS drops the lock when the process ends, ``kill -9``
included: a stale lock file never blocks a resume. So `probe_lock` tells a
live run from a dead one whose manifest still says "running".
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from splitter.errors import ConfigError

__all__ = ["LOCK_NAME", "FolderLock", "LockProbe", "locked_beside", "probe_lock"]

LOCK_NAME = "run.lock"
UPDATE_WAIT_SECONDS = 30.0
"""How long `locked_beside` waits for another process's update of the same file."""
_SIGNATURE = re.compile(r"pid ([0-9]+) on host (.+)")


@dataclass(frozen=True)
class LockProbe:
    """Whether a process holds a folder's run.lock now, and what its holder wrote in it."""

    held: bool | None
    """True: a live process holds it; False: it is free; None: there is no run.lock."""
    pid: int | None = None
    host: str | None = None


def probe_lock(folder: Path) -> LockProbe:
    """Look at ``folder``/run.lock without keeping it: held or free, and the signature in it.

    The lock is taken and let go at once when free, so a run starting in that
    instant is refused as if another run held the folder; it changes nothing.
    """
    try:
        fd = os.open(folder / LOCK_NAME, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return LockProbe(None)
    try:
        found = _SIGNATURE.fullmatch(_holder(fd))
        free = _try_lock(fd)
        if free and sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    finally:
        os.close(fd)  # lets go of the lock, if it was free and taken here
    if found is None:
        return LockProbe(not free)
    return LockProbe(not free, int(found[1]), found[2])


class FolderLock:
    """Holds ``folder``/run.lock exclusively from ``acquire`` to ``release`` (or as ``with``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._fd: int | None = None
        self._signed = False

    def acquire(self) -> FolderLock:
        """Create the folder if needed and lock it, or raise ConfigError naming the holder.

        Calling it again while holding the lock moves the lock to the folder's
        current run.lock (after the old folder was moved aside), then lets go
        of the old one.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = _locked_fd(self.folder / LOCK_NAME)
        signed = self._signed
        self.release()
        self._fd = fd
        if signed:
            self.sign()
        return self

    def sign(self) -> None:
        """Write this process's pid and host in the held lock file, for a refused run to show."""
        fd = self._held()
        text = f"pid {os.getpid()} on host {socket.gethostname()}\n".encode()
        with _named(self.folder / LOCK_NAME):
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, text)
            os.ftruncate(fd, len(text))
        self._signed = True

    def release(self) -> None:
        """Erase what `sign` wrote and let go of the lock; the file stays."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                if self._signed:
                    os.ftruncate(fd, 0)  # still held: nobody reads a pid that is gone
            finally:
                self._signed = False
                os.close(fd)  # closing the descriptor releases the OS lock

    def _held(self) -> int:
        if self._fd is None:
            raise ValueError(f"the lock of {self.folder} is not held")
        return self._fd

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


@contextlib.contextmanager
def locked_beside(path: Path, wait: float = UPDATE_WAIT_SECONDS) -> Iterator[Path]:
    """Hold the exclusive lock of ``.<name>.lock`` beside ``path`` (yielded) while in the block.

    For a read, change and rewrite of ``path`` that two processes may do at
    once (``calibrate --update`` on one machines.json): the second waits for
    the first, up to ``wait`` seconds, so neither update is lost. The lock
    file stays: removing it would let a third process lock a new one.
    """
    lock = path.with_name(f".{path.name}.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
    try:
        deadline = time.monotonic() + wait
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                raise ConfigError(
                    f"{path} is being updated by another process, which holds {lock}; wait"
                    " for it to finish, then run again"
                )
            time.sleep(0.02)
        yield lock
    finally:
        os.close(fd)  # closing the descriptor releases the OS lock


def _locked_fd(path: Path) -> int:
    """An open descriptor of ``path`` holding its exclusive lock."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
    try:
        with _named(path):
            locked = _try_lock(fd)
        if not locked:
            raise ConfigError(
                f"{path.parent} is in use by another run ({_holder(fd)}); wait for it to end"
                " or stop it, or pass another --out"
            )
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def _named(path: Path) -> Iterator[None]:
    """Name ``path`` on an OSError of its descriptor (a full disk, no locks on NFS).

    An error on a descriptor names no file, so the command line could not say
    which one it is about; with the name it says so in one sentence.
    """
    try:
        yield
    except OSError as exc:
        if exc.filename is not None:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from None


def _holder(fd: int) -> str:
    """What the holder wrote in the lock file (Windows may refuse to read a locked byte)."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 200).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "a run that is starting"


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
