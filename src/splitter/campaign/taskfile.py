"""Read a task file: one shell command per line, the job pool of ``--tasks FILE``.

Every non-blank line that does not start with ``#`` (after leading spaces) is
a task; a task's job id is its index among the tasks (comments and blank
lines take no id). The tasks' text is the pool, so the digest covers it, and
``[tasks]`` in splitter.ini (the shell, whether output is kept, the folder
tasks run in) is checked here, before anything is written.
"""

from __future__ import annotations

import configparser
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from splitter.errors import UsageError

__all__ = [
    "TASKS_SECTION",
    "TaskSettings",
    "longest_command",
    "parse_tasks",
    "read_task_file",
    "task_settings",
]

TASKS_SECTION = "tasks"
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


def parse_tasks(text: str) -> tuple[str, ...]:
    """The tasks of a task file's text, in order: its non-blank, non-comment lines."""
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").split("\n")
    return tuple(line for line in lines if line.strip() and not line.lstrip().startswith("#"))


def longest_command() -> int:
    """The longest task line, in bytes, that the OS lets a shell take as one argument."""
    arg_max = os.sysconf("SC_ARG_MAX") if hasattr(os, "sysconf") else 32_767
    environment = sum(len(k) + len(v) + 2 for k, v in os.environ.items())
    # Room for the shell's path, "-c", our own variables and their pointers.
    room = arg_max - environment - 4096
    if sys.platform.startswith("linux"):
        room = min(room, _LINUX_ARG_STRLEN - 1)
    return max(room, 0)


def read_task_file(path: Path) -> tuple[str, ...]:
    """The tasks of the file at ``path``; a UsageError (exit 2) if it cannot be one."""
    try:
        data = path.read_bytes()
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
    if b"\0" in data:
        raise UsageError(
            f"task file {path} is not text (it holds NUL bytes); pass a file with one "
            "shell command per line"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(
            f"task file {path} is not UTF-8 text (byte {error.start} is invalid); "
            "save it as UTF-8 with one shell command per line"
        ) from None
    tasks = parse_tasks(text)
    if not tasks:
        raise UsageError(
            f"task file {path} holds no tasks (only blank lines and # comments); write one "
            "shell command per line"
        )
    _check_lengths(path, text, tasks)
    return tasks


def _check_lengths(path: Path, text: str, tasks: tuple[str, ...]) -> None:
    limit = longest_command()
    for index, task in enumerate(tasks):
        size = len(task.encode("utf-8"))
        if size > limit:
            line = _line_number(text, task)
            raise UsageError(
                f"task file {path}: line {line} (job {index}) is {size} bytes, longer than "
                f"the {limit} bytes this system allows one command; move its data to a file "
                "the command reads"
            )


def _line_number(text: str, task: str) -> int:
    lines = text.replace("\r\n", "\n").split("\n")
    return lines.index(task) + 1


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
