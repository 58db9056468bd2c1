"""Read a task file: shell commands, one a line, the job pool of ``--tasks FILE``.

The file's bytes (``-``: standard input) become tasks through
``splitter.campaign.directives`` (disBatch's ``#DISBATCH`` lines, ``#SPLITTER
NEEDS``); a task's job id is its index among the tasks. A file that is not
UTF-8 runs byte for byte: its text is decoded with surrogate escapes, which
encode back to the same bytes. The tasks' text is the pool, so the digest
covers it, and ``[tasks]`` in splitter.ini (the shell, whether output is kept, the
folder tasks run in) is checked here, before anything is written.
"""

from __future__ import annotations

import configparser
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from splitter.campaign.directives import TaskFile, expand
from splitter.errors import UsageError

__all__ = [
    "STDIN",
    "TASKS_SECTION",
    "TaskSettings",
    "longest_command",
    "read_task_file",
    "task_file_name",
    "task_settings",
]

TASKS_SECTION = "tasks"
STDIN = Path("-")
"""``--tasks -``: the tasks come from standard input."""
_OPTIONS = ("shell", "keep_output", "cwd")
# Linux refuses one argument longer than this (MAX_ARG_STRLEN, 32 pages of 4 KiB).
_LINUX_ARG_STRLEN = 32 * 4096


@dataclass(frozen=True)
class TaskSettings:
    """``[tasks]`` of splitter.ini: the shell (empty: bash, else /bin/sh), keep_output, cwd.

    ``cwd`` is the folder tasks run in, relative to the one ``splitter`` was
    started from (empty: that folder itself).
    """

    shell: str = ""
    keep_output: bool = False
    cwd: str = ""


def longest_command() -> int:
    """The longest task line, in bytes, that the OS lets a shell take as one argument."""
    arg_max = os.sysconf("SC_ARG_MAX") if hasattr(os, "sysconf") else 32_767
    environment = sum(len(k) + len(v) + 2 for k, v in os.environ.items())
    # Room for the shell's path, "-c", our own variables and their pointers.
    room = arg_max - environment - 4096
    if sys.platform.startswith("linux"):
        room = min(room, _LINUX_ARG_STRLEN - 1)
    return max(room, 0)


def task_file_name(path: Path) -> str:
    """``DISBATCH_NAMETASKS``: the file's base name, ``stdin`` for standard input (as disBatch)."""
    return "stdin" if path == STDIN else path.name


def read_task_file(path: Path) -> TaskFile:
    """The tasks of the file at ``path`` (``-``: stdin); a UsageError (exit 2) if it is none."""
    source = "from standard input" if path == STDIN else str(path)
    data = sys.stdin.buffer.read() if path == STDIN else _read(path)
    if b"\0" in data:
        raise UsageError(
            f"task file {source} is not text (it holds NUL bytes); pass a file with one "
            "shell command per line"
        )
    tasks = expand(data.decode("utf-8", "surrogateescape"), source)
    _check_lengths(source, tasks)
    return tasks


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UsageError(
            f"task file {path} does not exist; check the path given to --tasks"
        ) from None
    except IsADirectoryError:
        raise UsageError(
            f"task file {path} is a folder; pass a file of commands to --tasks"
        ) from None
    except OSError as error:
        raise UsageError(
            f"task file {path} cannot be read ({error.strerror}); check its permissions"
        ) from None


def _check_lengths(source: str, tasks: TaskFile) -> None:
    limit = longest_command()
    commands = [(task.command, task.line, f" (job {job})") for job, task in enumerate(tasks.tasks)]
    commands += [(command.command, command.line, "") for command in (*tasks.start, *tasks.stop)]
    for command, line, job in commands:
        size = len(command.encode("utf-8", "surrogateescape"))
        if size > limit:
            raise UsageError(
                f"task file {source}: line {line}{job} is {size} bytes, longer than the {limit} "
                "bytes this system allows one command; move its data to a file the command reads"
            )


def task_settings(config: configparser.ConfigParser, source: str) -> TaskSettings:
    """``[tasks]`` of the config, checked: a bad or unknown option is a UsageError."""
    if not config.has_section(TASKS_SECTION):
        return TaskSettings()
    section = config[TASKS_SECTION]
    inherited = config.defaults()
    for option in section:
        if option not in _OPTIONS and option not in inherited:
            raise UsageError(
                f"{source}: [tasks] has no option {option!r} (known: {', '.join(_OPTIONS)}); "
                "fix the spelling"
            )
    raw = section.get("keep_output", "false")
    try:
        keep = section.getboolean("keep_output", fallback=False)
    except ValueError:
        raise UsageError(
            f"{source}: [tasks] keep_output = {raw!r} is not true or false; "
            "write e.g. keep_output = true"
        ) from None
    cwd = section.get("cwd", "").strip()
    if "\n" in cwd:
        raise UsageError(
            f"{source}: [tasks] cwd = {cwd!r} spans several lines; write one folder on one line"
        )
    return TaskSettings(shell=section.get("shell", "").strip(), keep_output=bool(keep), cwd=cwd)
