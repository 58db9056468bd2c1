"""Shell tasks as jobs: ``TaskJob`` runs one task of a task file as ``SHELL -c COMMAND``.

    Task --posix_spawn(SHELL -c COMMAND, own process group, fds 0-2 only, task_variables)--> child
        stdout, stderr --pipes--> StreamCapture --> log (bounded), tasks/<id>.*.zst
        exit --pidfd--> row: ok | error (exit code, last stderr line) | crashed (signal)

Runs in a worker process (``TaskJob`` is picklable; the shell's path and the
environment are looked up once per process, never per task). The child gets
its own process group, which it tells the parent through ``job_context``, and
a token in its environment (`splitter.run.tasktree`): a timeout, a lost
worker or a stop kills the whole group, and what a task left running, even
in a session of its own, is killed when the task ends, or by the worker's
keeper when the worker dies first. It inherits no file descriptor of its
worker but 0-2, so nothing it leaves behind can hold the worker's pipes.
Tasks run in the folder ``splitter`` was started from (sent with the job to
every worker, Dask's too), or ``[tasks] cwd``.
"""

from __future__ import annotations

import configparser
import os
import select
import shlex
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from splitter.campaign.directives import EngineCommand, Task, TaskFile, task_key
from splitter.campaign.phases import Barrier, Phases, phases_of
from splitter.campaign.taskfile import TaskSettings, read_task_file, task_file_name, task_settings
from splitter.errors import UsageError
from splitter.run.engine import JobSetup, LogLines
from splitter.run.injection import JobContext, JobFailed, JobResources
from splitter.run.lifeline import become_subreaper
from splitter.run.taskenv import TaskPlace, task_variables
from splitter.run.taskoutput import StreamCapture
from splitter.run.tasktree import (
    TOKEN_VARIABLE,
    Keeper,
    inherited_fds,
    kill_adopted,
    kill_group,
    kill_holders,
    new_token,
)

__all__ = [
    "TASK_COLUMNS",
    "TaskJob",
    "check_task_folder",
    "load_tasks",
    "resolve_shell",
    "shown_command",
    "task_environment",
    "task_folder",
]

TASK_COLUMNS = (
    "exit_code", "command", "line", "repeat_index", "task_id", "host", "pid", "out_bytes",
    "err_bytes",
)  # fmt: skip
"""The columns of a task's row (``task_id`` and ``repeat_index`` are disBatch's)."""

# Signals Python ignores or a worker blocks, which a shell command expects at their defaults.
_DEFAULT_SIGNALS = (
    signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGQUIT,
)  # fmt: skip
_READ_SIZE = 65536
# How often a task's wait checks whether its job was given up (Dask), and how
# long a given-up task has between SIGTERM and SIGKILL.
CANCEL_POLL_SECONDS = 0.25
STOP_GRACE_SECONDS = 2.0
_process_cache: dict[str, Any] = {}
_keeper = Keeper()


def resolve_shell(settings: TaskSettings) -> str:
    """The shell's absolute path: ``[tasks] shell``, else bash, else /bin/sh."""
    if settings.shell:
        found = shutil.which(settings.shell)
        if found is None:
            raise UsageError(
                f"[tasks] shell = {settings.shell!r} is not found on this host; give its full "
                "path, or leave shell empty for bash (or /bin/sh)"
            )
        return os.path.abspath(found)
    return shutil.which("bash") or "/bin/sh"


def task_folder(settings: TaskSettings, start: str) -> str:
    """Where tasks run: ``[tasks] cwd`` (relative to ``start``), else ``start``."""
    return os.path.join(start, os.path.expanduser(settings.cwd)) if settings.cwd else start


def check_task_folder(settings: TaskSettings, start: str) -> None:
    """Refuse a ``[tasks] cwd`` that is not a folder here, in one sentence naming it."""
    folder = task_folder(settings, start)
    if not os.path.isdir(folder):
        raise UsageError(
            f"[tasks] cwd = {settings.cwd!r} is not a folder on this host ({folder}); "
            "create it, or fix the path in splitter.ini"
        )


def load_tasks(
    path: Path,
) -> tuple[TaskJob, tuple[Task, ...], Callable[[Task], tuple[str | bytes, int]], Phases]:
    """A task file as (job, pool, key, phases) for any command that takes a pool (``-``: stdin).

    The key of a task is its command as run and its repeat index (``task_key``);
    its phase is how many barriers come before it.
    """
    tasks: TaskFile = read_task_file(path)
    job = TaskJob(task_file_name(path), tasks.start, tasks.stop, os.getcwd())
    barriers = [Barrier(barrier.line, barrier.check) for barrier in tasks.barriers]
    phases = phases_of([task.phase for task in tasks.tasks], barriers)
    return job, tasks.tasks, task_key, phases


def shown_command(command: str) -> str:
    """A command as the results show it: bytes that are not UTF-8 as ``\\xNN`` escapes."""
    return command.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def task_environment(environ: dict[str, str], frozen: bool) -> dict[str, str]:
    """The host's environment for tasks, without what a frozen binary's bootloader added."""
    env = dict(environ)
    if frozen:
        # PyInstaller points the library path at its unpack folder: tasks must
        # load the system's libraries, and a splitter binary they start must
        # unpack its own bundle.
        original = env.pop("LD_LIBRARY_PATH_ORIG", None)
        env.pop("LD_LIBRARY_PATH", None)
        if original is not None:
            env["LD_LIBRARY_PATH"] = original
        for name in [name for name in env if name.startswith(("_PYI_", "_MEIPASS"))]:
            del env[name]
    return env


@dataclass(frozen=True)
class TaskJob:
    """The job of a task campaign: each pool item is one `Task` of the file ``name``.

    ``start`` and ``stop`` are the file's PERENGINE commands, which the engines
    run once per host around its tasks (``host_start``, ``host_stop``).
    ``folder`` is the folder ``splitter`` was started from, which travels with
    the job to every worker: tasks run there (or in ``[tasks] cwd``).
    """

    MEMORY_OF_ITS_GROUP: ClassVar[bool] = True
    """A task's memory is its process group's, which the local engine watches."""

    name: str = "tasks"
    start: tuple[EngineCommand, ...] = ()
    stop: tuple[EngineCommand, ...] = ()
    folder: str = "."

    def __call__(
        self,
        task: Task,
        *,
        config: configparser.ConfigParser,
        job_context: JobContext,
        resources: JobResources,
    ) -> dict[str, Any]:
        """Run ``task``; its columns are `TASK_COLUMNS`."""
        settings = task_settings(config, "splitter.ini")
        shell, env = _per_process(settings)
        context = job_context
        folder = context.folder
        cwd = task_folder(settings, self.folder)
        place = TaskPlace(
            context.job_id, context.key, context.seed, context.machine, context.worker,
            str(folder) if folder is not None else cwd, task.task_id,
            task.repeat_index, task.line, self.name, context.plan_digest, context.rank,
        )  # fmt: skip
        env = {**env, **resources.environment, **task_variables(place)}
        keep = folder / "tasks" if settings.keep_output and folder is not None else None
        streams = (
            StreamCapture(context.job_id, "out", keep and keep / f"{context.job_id}.out.zst"),
            StreamCapture(context.job_id, "err", keep and keep / f"{context.job_id}.err.zst"),
        )
        command = task.command
        script = command if cwd == os.getcwd() else f"cd -- {shlex.quote(cwd)} || exit\n{command}"
        status = _run(shell, script, env, streams, context)
        for stream in streams:
            stream.close()
            stream.log_lines()
        return _outcome(task, status, streams, context.held)

    def host_start(self, setup: JobSetup) -> LogLines:
        """Run the PERENGINE START commands here, in order; return what to log."""
        return self._on_host(setup, "start", self.start)

    def host_stop(self, setup: JobSetup) -> LogLines:
        """Run the PERENGINE STOP commands here, in order; return what to log."""
        return self._on_host(setup, "stop", self.stop)

    def lost_value(self, item: Any, status: str, host: str, pid: int) -> dict[str, Any]:
        """The columns of a task whose worker died or that timed out: its group got SIGKILL."""
        code = None if status == "returned" else -int(signal.SIGKILL)
        return _columns(item, code, host, pid, None)

    def _on_host(self, setup: JobSetup, stage: str, commands: Sequence[EngineCommand]) -> LogLines:
        if not commands:
            return []
        from splitter.campaign.config import parse_config
        from splitter.run.perengine import run_engine_commands

        config = parse_config(setup.config_text, setup.config_source)
        shell, env = _per_process(task_settings(config, setup.config_source))
        return run_engine_commands(commands, stage, shell, env, setup, self.name)


def _per_process(settings: TaskSettings) -> tuple[str, dict[str, str]]:
    """The shell and the environment, found once per worker process (and shell setting)."""
    found = _process_cache.get(settings.shell)
    if found is None:
        env = task_environment(dict(os.environ), bool(getattr(sys, "frozen", False)))
        found = (resolve_shell(settings), env)
        _process_cache[settings.shell] = found
    result: tuple[str, dict[str, str]] = found
    return result


def _hostname() -> str:
    """This host's name, looked up once per process: the ``host`` of every task row."""
    name = _process_cache.get("host")
    if name is None:
        name = _process_cache["host"] = socket.gethostname()
    return str(name)


def _columns(
    task: Task, code: int | None, host: str, pid: int, streams: Sequence[StreamCapture] | None
) -> dict[str, Any]:
    """A task's row: exit code, command as run, where in the file, where it ran, what it said."""
    return {
        "exit_code": code,
        "command": shown_command(task.command),
        "line": task.line,
        "repeat_index": task.repeat_index,
        "task_id": task.task_id,
        "host": host,
        "pid": pid or None,
        "out_bytes": streams[0].total if streams else None,
        "err_bytes": streams[1].total if streams else None,
    }


def _adopting() -> bool:
    """Whether this worker adopts its tasks' orphans: it runs them in its main thread.

    A local pool's worker runs one job at a time there and starts nothing
    else, so every child it has besides the task and the keeper is an orphan
    of the task. A Dask worker runs tasks in threads, beside other code's
    children: there orphans are found by their token.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    adopting = _process_cache.get("adopting")
    if adopting is None:
        adopting = _process_cache["adopting"] = become_subreaper()
    return bool(adopting)


def _run(
    shell: str,
    script: str,
    env: dict[str, str],
    streams: tuple[StreamCapture, StreamCapture],
    context: JobContext,
) -> int:
    """Start the task, collect its output until it ends, and return its wait status."""
    adopting = _adopting()
    token = env[TOKEN_VARIABLE] = new_token()
    _keeper.expect(token)
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    stdin = os.open(os.devnull, os.O_RDONLY)
    try:
        pid = os.posix_spawn(
            shell, [shell, "-c", script], env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, stdin, 0),
                (os.POSIX_SPAWN_DUP2, out_write, 1),
                (os.POSIX_SPAWN_DUP2, err_write, 2),
                # What the worker inherited (its pipes to the parent, their sentinel):
                # a task that outlives the worker must not hold them open.
                *((os.POSIX_SPAWN_CLOSE, fd) for fd in inherited_fds()),
            ],
            setpgroup=0, setsigdef=_DEFAULT_SIGNALS, setsigmask=(),
        )  # fmt: skip
    except BaseException:
        for fd in (out_read, err_read):
            os.close(fd)
        raise
    finally:
        for fd in (out_write, err_write, stdin):
            os.close(fd)
    _keeper.hold(pid, token)
    context.hold_process_group(pid)
    try:
        _collect(pid, {out_read: streams[0], err_read: streams[1]}, context)
        # The pipes may close before the task ends (coreutils close stdout at
        # exit): wait for its end, leaving it unreaped so its group id stays ours.
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    except BaseException:
        for stream in streams:
            stream.discard()
        raise
    finally:
        _kill_leftovers(pid, token, adopting)
        _keeper.release(pid)
        context.hold_process_group(0)
    return os.waitpid(pid, 0)[1]


def _collect(pid: int, readers: dict[int, StreamCapture], context: JobContext) -> None:
    """Feed both pipes to their captures until the task has exited and they are drained."""
    poller = select.poll()
    for fd in readers:
        poller.register(fd, select.POLLIN)
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = -1  # No pidfd here: the pipes' end is the task's end.
    else:
        poller.register(pidfd, select.POLLIN)
    stop = _Stop(pid)
    exited = False
    try:
        while readers:
            # Once the task has gone, its background children may hold the pipes:
            # take what is there and stop.
            events = poller.poll(0 if exited else CANCEL_POLL_SECONDS * 1000)
            if exited and not events:
                break
            if context.cancelled():
                stop.now()
            for fd, _ in events:
                if fd == pidfd:
                    exited = True
                    poller.unregister(pidfd)
                    continue
                data = os.read(fd, _READ_SIZE)
                if data:
                    readers[fd].feed(data)
                else:
                    poller.unregister(fd)
                    del readers[fd]
                    os.close(fd)
    finally:
        for fd in readers:
            os.close(fd)
        if pidfd >= 0:
            os.close(pidfd)


class _Stop:
    """Stops a given-up task: SIGTERM to its group, SIGKILL ``STOP_GRACE_SECONDS`` later."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.kill_at: float | None = None

    def now(self) -> None:
        if self.kill_at is None:
            kill_group(self.pid, signal.SIGTERM)
            self.kill_at = time.monotonic() + STOP_GRACE_SECONDS
        elif time.monotonic() >= self.kill_at:
            kill_group(self.pid)


def _kill_leftovers(pid: int, token: str, adopting: bool) -> None:
    """Kill what the task left running: its group, and its orphans wherever they went."""
    # The task's leader is not yet reaped, so its group id cannot have been reused.
    kill_group(pid)
    if adopting:
        kill_adopted(keep={pid, _keeper.pid})
    else:
        kill_holders([token])


def _outcome(
    task: Task, status: int, streams: Sequence[StreamCapture], pid: int
) -> dict[str, Any]:
    code = os.waitstatus_to_exitcode(status)
    value = _columns(task, code, _hostname(), pid, streams)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        raise JobFailed("crashed", f"killed by signal {_signal_name(number)}", value)
    if code != 0:
        last = streams[1].last_line()
        raise JobFailed("error", f"exit code {code}" + (f": {last}" if last else ""), value)
    return value


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
