"""Helpers for tests of processes: find them in /proc, wait for them, never leave one behind.

Every sleep a test starts carries a duration no other program on the machine
uses (``unique_sleep``), so `ps` can tell whether it is still running, and
``kill_leftovers`` kills it in the test's ``finally``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path


def unique_sleep(seconds: int) -> str:
    """A duration of about ``seconds`` that names one test's sleeps, e.g. "301.48213"."""
    return f"{seconds}.{secrets.randbelow(90000) + 10000}"


def running(*words: str) -> list[int]:
    """The live (not zombie) processes whose command line holds all of ``words`` (ps)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and all(word.encode() in argv for word in words):
            found.append(int(entry.name))
    return found


def alive_in_group(group: int) -> list[int]:
    """The live (not zombie) processes of a process group."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == group:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_for(predicate: Callable[[], bool], seconds: float = 30) -> None:
    """Wait until ``predicate()`` holds; fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def kill_leftovers(sleeps: Iterable[str] = (), groups: Iterable[int] = ()) -> None:
    """SIGKILL what a test may have left: its unique sleeps, and process groups."""
    for group in groups:
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)
    for duration in sleeps:
        for pid in running("sleep", duration):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def pid_in(path: Path) -> int:
    """The pid a task wrote into ``path``."""
    return int(path.read_text().split()[0])
