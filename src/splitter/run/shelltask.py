"""Shell tasks as jobs: ``TaskJob`` runs one task file line as ``SHELL -c LINE``.

    task line --posix_spawn(SHELL -c LINE, own process group)--> child
        stdout, stderr --pipes--> StreamCapture --> log (bounded), tasks/<id>.*.zst
        exit --pidfd--> row: ok | error (exit code, last stderr line) | crashed (signal)

Runs in a worker process (``TaskJob`` is picklable; the shell's path and the
environment are looked up once per process, never per task). The child gets
its own process group, which it tells the parent through ``job_context``: a
timeout, a lost worker or a stop kills the whole group, and what a task left
running in the background is killed when the task ends.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import select
import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splitter.campaign.taskfile import TaskSettings, read_task_file, task_settings
from splitter.errors import UsageError
from splitter.run.injection import JobContext, JobFailed, JobResources
from splitter.run.taskoutput import StreamCapture

__all__ = ["TaskJob", "load_tasks", "resolve_shell", "task_environment"]

# Signals Python ignores or a worker blocks, which a shell command expects at their defaults.
_DEFAULT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGQUIT)
_READ_SIZE = 65536
_process_cache: dict[str, Any] = {}


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


def load_tasks(path: Path) -> tuple[TaskJob, tuple[str, ...]]:
    """A task file as a (job function, pool) pair, for any command that takes a pool."""
    return TaskJob(), read_task_file(path)


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
    """The job of a task campaign: each pool item is one shell command line."""

    def __call__(
        self,
        line: str,
        *,
        config: configparser.ConfigParser,
        job_context: JobContext,
        resources: JobResources,
    ) -> dict[str, Any]:
        """Run ``line``; its columns are ``exit_code`` and ``command``."""
        settings, shell, env = _per_process(config)
        context = job_context
        folder = context.folder
        env = {
            **env,
            **resources.environment,
            "SPLITTER_JOB_ID": str(context.job_id),
            "SPLITTER_JOB_KEY": context.key,
            "SPLITTER_SEED": str(context.seed),
            "SPLITTER_MACHINE": context.machine,
            "SPLITTER_WORKER": str(context.worker),
            "SPLITTER_OUT": str(folder) if folder is not None else os.getcwd(),
        }
        keep = folder / "tasks" if settings.keep_output and folder is not None else None
        streams = (
            StreamCapture(context.job_id, "out", keep and keep / f"{context.job_id}.out.zst"),
            StreamCapture(context.job_id, "err", keep and keep / f"{context.job_id}.err.zst"),
        )
        status = _run(shell, line, env, streams, context)
        for stream in streams:
            stream.close()
            stream.log_lines()
        return _outcome(line, status, streams[1])


def _per_process(config: configparser.ConfigParser) -> tuple[TaskSettings, str, dict[str, str]]:
    """The settings, the shell and the environment, found once per worker process."""
    found = _process_cache.get("setup")
    if found is None:
        settings = task_settings(config, "splitter.ini")
        env = task_environment(dict(os.environ), bool(getattr(sys, "frozen", False)))
        found = (settings, resolve_shell(settings), env)
        _process_cache["setup"] = found
    result: tuple[TaskSettings, str, dict[str, str]] = found
    return result


def _run(
    shell: str,
    line: str,
    env: dict[str, str],
    streams: tuple[StreamCapture, StreamCapture],
    context: JobContext,
) -> int:
    """Start the task, collect its output until it ends, and return its wait status."""
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    stdin = os.open(os.devnull, os.O_RDONLY)
    try:
        pid = os.posix_spawn(
            shell, [shell, "-c", line], env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, stdin, 0),
                (os.POSIX_SPAWN_DUP2, out_write, 1),
                (os.POSIX_SPAWN_DUP2, err_write, 2),
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
    context.hold_process_group(pid)
    try:
        _collect(pid, {out_read: streams[0], err_read: streams[1]})
        # The pipes may close before the task ends (coreutils close stdout at
        # exit): wait for its end, leaving it unreaped so its group id stays ours.
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    except BaseException:
        for stream in streams:
            stream.discard()
        raise
    finally:
        _kill_leftovers(pid)
        context.hold_process_group(0)
    return os.waitpid(pid, 0)[1]


def _collect(pid: int, readers: dict[int, StreamCapture]) -> None:
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
    exited = False
    try:
        while readers:
            # Once the task has gone, its background children may hold the pipes:
            # take what is there and stop.
            events = poller.poll(0 if exited else None)
            if exited and not events:
                break
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


def _kill_leftovers(pid: int) -> None:
    # The task's leader is not yet reaped, so its group id cannot have been reused.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _outcome(line: str, status: int, stderr: StreamCapture) -> dict[str, Any]:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        value = {"exit_code": -number, "command": line}
        raise JobFailed("crashed", f"killed by signal {_signal_name(number)}", value)
    code = os.waitstatus_to_exitcode(status)
    value = {"exit_code": code, "command": line}
    if code != 0:
        last = stderr.last_line()
        raise JobFailed("error", f"exit code {code}" + (f": {last}" if last else ""), value)
    return value


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
