"""Processes that die with their parent: a parent-death signal, else a pipe they watch.

Linux's ``prctl(PR_SET_PDEATHSIG)`` has the kernel signal a process the moment
its parent exits, even while it runs native code holding the GIL. Where
there is no prctl, a thread reads a pipe whose other end only the parent
holds, and ends the process when it closes. Also here: making a process a
child subreaper, so the orphans of what it starts re-parent to it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

__all__ = ["become_subreaper", "die_with_parent", "exit_when_closed"]

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> bool:
    """Call Linux's prctl; False where there is none or it fails."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def die_with_parent(parent: int, signum: int = signal.SIGKILL) -> bool:
    """Have the kernel send ``signum`` to this process when ``parent`` exits; False: no prctl.

    ``parent`` is the pid this process's parent should have: if it has gone
    already (this process was re-parented), the signal comes at once.
    """
    if not _prctl(_PR_SET_PDEATHSIG, signum):
        return False
    if os.getppid() != parent:
        os.kill(os.getpid(), signum)
    return True


def become_subreaper() -> bool:
    """Make orphaned descendants re-parent to this process (Linux); False where it cannot."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def exit_when_closed(lifeline: Connection, exit_code: int = 1) -> None:
    """End this process as soon as nothing holds the other end of ``lifeline`` (a thread)."""

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv_bytes()
        os._exit(exit_code)

    threading.Thread(target=watch, name="splitter-lifeline", daemon=True).start()
