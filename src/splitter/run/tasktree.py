"""What a shell task leaves behind, found and killed: its token, its orphans, its keeper.

Runs in worker processes, and is itself the keeper's program (stdlib only, so
it runs as ``python -I -S tasktree.py`` with nothing of splitter importable):

    worker --posix_spawn--> shell: own process group, SPLITTER_TASK_TOKEN=<token>
      |                       \\--> what it starts, even in a new session, inherits the token
      |    a worker of the local pool is a child subreaper: a task's orphans re-parent to it
      |
      +--pipe: "+ PGID TOKEN" as a task starts, "- PGID" once it is cleaned up--> keeper
                                                  (its own session; it outlives the worker)

When a task ends, its worker kills its process group, then its adopted
orphans (local pool) or the processes carrying its token (Dask, where other
code's children share the worker). When the worker itself dies, however it
dies, its end of the pipe closes and the keeper kills each group still held
and every process carrying their tokens, then exits.

Tokens are found in ``/proc/*/environ`` of our own uid, so on Linux only; a
process that clears its environment or changes its uid keeps none.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Collection

__all__ = [
    "TOKEN_VARIABLE",
    "Keeper",
    "children",
    "inherited_fds",
    "keep",
    "kill_adopted",
    "kill_group",
    "kill_holders",
    "new_token",
    "token_holders",
]

TOKEN_VARIABLE = "SPLITTER_TASK_TOKEN"
# Rounds of scan-and-kill: what a process forks before its SIGKILL lands is
# found on the next round; a fork bomb is not chased forever.
_ROUNDS = 50
_ROUND_PAUSE = 0.005
_PROC = "/proc"


def new_token() -> str:
    """A token no other task shares: random, so it tells apart runs, workers and hosts."""
    return secrets.token_hex(12)


def inherited_fds() -> list[int]:
    """This process's open file descriptors above 2 that a program it starts would inherit."""
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        found = []
        for fd in map(int, names):
            # The listing's own descriptor is closed by now: it raises, and is skipped.
            with contextlib.suppress(OSError):
                if fd > 2 and os.get_inheritable(fd):
                    found.append(fd)
        return found
    return []


def token_holders(tokens: Collection[str]) -> list[int]:
    """The processes of our uid (not this one) whose environment carries one of ``tokens``."""
    if not tokens:
        return []
    wanted = [f"{TOKEN_VARIABLE}={token}\0".encode() for token in tokens]
    me, uid = os.getpid(), os.getuid()
    try:
        names = os.listdir(_PROC)
    except OSError:
        return []
    found = []
    for name in names:
        if not name.isdigit() or int(name) == me:
            continue
        environ = _environ(name, uid)
        if environ and any(environ.startswith(w) or b"\0" + w in environ for w in wanted):
            found.append(int(name))
    return found


def _environ(name: str, uid: int) -> bytes:
    """The environment a process started with; empty if it is not ours, or gone, or a zombie."""
    try:
        fd = os.open(f"{_PROC}/{name}/environ", os.O_RDONLY)
    except OSError:
        return b""
    try:
        if os.fstat(fd).st_uid != uid:
            return b""
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return b""
    finally:
        os.close(fd)


def kill_holders(tokens: Collection[str]) -> None:
    """SIGKILL every process carrying one of ``tokens``, round after round until none is left."""
    for round_ in range(_ROUNDS):
        pids = token_holders(tokens)
        if not pids:
            return
        if round_:
            time.sleep(_ROUND_PAUSE)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def kill_group(pgid: int, signum: int = signal.SIGKILL) -> None:
    """Signal process group ``pgid``, if it is still there and ours."""
    if pgid > 0:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signum)


def children() -> list[int]:
    """This process's children, zombies included."""
    pid = os.getpid()
    try:
        threads = os.listdir(f"{_PROC}/self/task")
        found: list[int] = []
        for thread in threads:
            with open(f"{_PROC}/self/task/{thread}/children", "rb") as file:
                found.extend(map(int, file.read().split()))
        return found
    except OSError:
        pass  # No children files in this kernel: read every process's parent.
    found = []
    for name in os.listdir(_PROC):
        if name.isdigit():
            stat = f"{_PROC}/{name}/stat"
            with contextlib.suppress(OSError, IndexError, ValueError), open(stat, "rb") as file:
                if int(file.read().rsplit(b")", 1)[1].split()[1]) == pid:
                    found.append(int(name))
    return found


def kill_adopted(keep: Collection[int]) -> None:
    """SIGKILL and reap this subreaper's children but ``keep``, and theirs, until none is left.

    Runs in a worker that runs one task at a time and starts no other
    children: each child but ``keep`` is an orphan a task left behind.
    """
    for round_ in range(_ROUNDS):
        pids = [pid for pid in children() if pid not in keep]
        if not pids:
            return
        if round_:
            time.sleep(_ROUND_PAUSE)
        for pid in pids:
            with contextlib.suppress(OSError):
                if os.getpgid(pid) == pid:
                    os.killpg(pid, signal.SIGKILL)  # a group it leads goes with it
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


class Keeper:
    """The worker's side of its keeper, started at the first task: one pipe, two messages."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd = -1
        self._failed = False
        self.pid = 0

    def expect(self, token: str) -> None:
        """A task is about to start with ``token``: from now on the keeper kills what holds it.

        Said before the task starts, so a task that kills its worker at once
        (before ``hold`` could be said) still leaves nothing behind.
        """
        self._say(f"t 0 {token}\n".encode())

    def hold(self, pgid: int, token: str) -> None:
        """A task runs in group ``pgid`` with ``token``: the keeper kills them if we die."""
        self._say(f"+ {pgid} {token}\n".encode())

    def _say(self, message: bytes) -> None:
        with self._lock:
            if self._failed:
                return
            for _ in range(2):  # Once more after a keeper that was killed.
                try:
                    if self._fd < 0:
                        self._start()
                    os.write(self._fd, message)
                    return
                except OSError as error:
                    self._stop()
                    reason = error
            # Tasks still run; only a worker's death may leave one running.
            self._failed = True
            logging.getLogger("splitter.worker").warning(
                "cannot start the keeper that kills a dead worker's task (%s)", reason
            )

    def release(self, pgid: int) -> None:
        """Group ``pgid`` is cleaned up: the keeper forgets it (its number may be reused)."""
        with self._lock:
            try:
                os.write(self._fd, f"- {pgid}\n".encode())
            except OSError:
                self._stop()  # A new keeper holds nothing: nothing to forget.

    def _start(self) -> None:
        read, write = os.pipe()
        try:
            self.pid = _fork_keeper(read) if getattr(sys, "frozen", False) else _spawn_keeper(read)
        except BaseException:
            os.close(write)
            raise
        finally:
            os.close(read)
        self._fd = write

    def _stop(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = -1
        if self.pid:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, os.WNOHANG)


def _spawn_keeper(read: int) -> int:
    """Start this file as the keeper, in its own session, reading ``read`` as stdin."""
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [
            (os.POSIX_SPAWN_DUP2, read, 0),
            (os.POSIX_SPAWN_DUP2, devnull, 1),
            (os.POSIX_SPAWN_DUP2, devnull, 2),
            *((os.POSIX_SPAWN_CLOSE, fd) for fd in inherited_fds()),
        ]
        argv = [sys.executable, "-I", "-S", os.path.abspath(__file__)]
        return os.posix_spawn(sys.executable, argv, os.environ, file_actions=actions, setsid=True)
    finally:
        os.close(devnull)


def _fork_keeper(read: int) -> int:
    """In a one-file binary, where no interpreter can run this file: fork the keeper."""
    pid = os.fork()
    if pid:
        return pid
    try:  # The child: never return into the worker's code.
        os.setsid()
        os.dup2(read, 0)
        os.closerange(3, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 1024)
        keep(0)
    finally:
        os._exit(0)


def keep(fd: int) -> None:
    """Runs in the keeper: follow the worker's messages on ``fd``; at their end, kill."""
    held: dict[int, str] = {}
    expected: set[str] = set()
    pending = b""
    while data := os.read(fd, 4096):
        *lines, pending = (pending + data).split(b"\n")
        for line in lines:
            kind, group, *token = line.decode().split()
            if kind == "t":
                expected.add(token[0])
            elif kind == "+":
                expected.discard(token[0])
                held[int(group)] = token[0]
            else:
                held.pop(int(group), None)
    for pgid in held:
        kill_group(pgid)
    kill_holders([*held.values(), *expected])


if __name__ == "__main__":
    keep(0)
