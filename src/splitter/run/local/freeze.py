"""Stop a worker's job in place and let it go on: SIGSTOP and SIGCONT to all its processes.

A job runs in its worker process and, for a shell task, in a process group
of its own; a Python job may start processes of its own too. `freeze`
stops the worker first and waits until it has stopped, so it can start
nothing more; then the job's group, then every process under the worker
(found in /proc, parents before children: one that forked just before its
parent stopped is still found). Memory is kept; `thaw` continues them all,
the worker last. A stopped process ignores SIGTERM until it is continued,
so `end` sends the signal and then SIGCONT, and the job ends as a running
one would. Runs in the parent; where signals cannot stop a process
(Windows), `STOPS_IN_PLACE` is False and the caller does not ask.

If the parent itself is killed (``kill -9``) while jobs are stopped, nobody
would continue them: they would wait, stopped, for ever. A `Guard` is a
shell waiting on a pipe from the parent, which tells it what is stopped
now; when the pipe closes with something still stopped, the guard sends it
SIGTERM and SIGCONT. It starts with the first pause in place, costs a
blocked ``sh``, and ends with the pool.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

from splitter.run.proctree import descendants, process_table

__all__ = ["STOPS_IN_PLACE", "Frozen", "Guard", "end", "freeze", "thaw"]

STOPS_IN_PLACE = hasattr(signal, "SIGSTOP") and hasattr(os, "killpg")
STOP_WAIT_SECONDS = 1.0
"""How long `freeze` waits for the worker to stop (a process in uninterruptible I/O waits)."""


@dataclass(frozen=True)
class Frozen:
    """What `freeze` stopped: the worker and the processes under it, and the job's group."""

    pids: tuple[int, ...]
    group: int


def freeze(worker: int, group: int) -> Frozen:
    """Stop ``worker`` (a child of this process), the job's ``group`` (0: none), and their kin."""
    if not _signal(worker, signal.SIGSTOP):
        return Frozen((), 0)
    _wait_stopped(worker)
    if group > 0:
        _signal_group(group, signal.SIGSTOP)
    stopped = [worker]
    for _ in range(2):  # once more for what was forked while the first pass ran
        table = process_table()
        if table is None:
            break
        for pid in descendants(table, worker):
            if pid not in stopped and _signal(pid, signal.SIGSTOP):
                stopped.append(pid)
    return Frozen(tuple(stopped), group)


def thaw(frozen: Frozen) -> None:
    """Continue what `freeze` stopped: the job's group and processes, then the worker."""
    if frozen.group > 0:
        _signal_group(frozen.group, signal.SIGCONT)
    for pid in reversed(frozen.pids):
        _signal(pid, signal.SIGCONT)


def end(frozen: Frozen, signum: int) -> None:
    """Send ``signum`` to what `freeze` stopped, then continue it so that it acts on it."""
    if frozen.group > 0:
        _signal_group(frozen.group, signum)
    for pid in frozen.pids:
        _signal(pid, signum)
    thaw(frozen)


# Each line is all that is stopped now, pids before groups (-pgid: a pid must come first
# for dash's kill); at the end of input, what the last line names is ended.
_GUARD_SCRIPT = (
    "trap '' INT HUP TERM; last=; while IFS= read -r line; do last=$line; done; "
    'if [ -n "$last" ]; then kill -TERM $last; kill -CONT $last; fi'
)


class Guard:
    """Ends the stopped jobs if this process dies before it continues them (see above)."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None

    def watch(self, frozen: Iterable[Frozen]) -> None:
        """Tell the guard what is stopped now (nothing: it does nothing when this process ends)."""
        stopped = list(frozen)
        targets = [str(pid) for item in stopped for pid in item.pids]
        targets += [f"-{item.group}" for item in stopped if item.group > 0]
        if self._process is None:
            if not targets:
                return
            self._process = subprocess.Popen(
                ["/bin/sh", "-c", _GUARD_SCRIPT], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, process_group=0,
            )  # fmt: skip
        self._send(" ".join(targets))

    def close(self) -> None:
        """Let the guard end with nothing to do."""
        if self._process is None:
            return
        self._send("")
        with contextlib.suppress(OSError):
            self._stdin().close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=5)
        self._process = None

    def _send(self, line: str) -> None:
        with contextlib.suppress(OSError):  # the guard was killed: nothing to tell
            self._stdin().write(f"{line}\n".encode())
            self._stdin().flush()

    def _stdin(self) -> IO[bytes]:
        assert self._process is not None and self._process.stdin is not None
        return self._process.stdin


def _wait_stopped(pid: int) -> None:
    """Wait until the child ``pid`` has stopped (or ended), leaving its state for its reaper."""
    if not hasattr(os, "waitid"):
        return
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    flags = os.WSTOPPED | os.WEXITED | os.WNOHANG | os.WNOWAIT
    while time.monotonic() < deadline:
        try:
            if os.waitid(os.P_PID, pid, flags) is not None:
                return
        except ChildProcessError:
            return  # reaped already
        time.sleep(0.002)


def _signal(pid: int, signum: int) -> bool:
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)
