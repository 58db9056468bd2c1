"""Write the config templates of ``splitter init``: machines.json and splitter.ini.

The templates are valid as written, so a first run works before any editing;
existing files are never overwritten.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from splitter.campaign.config import CONFIG_FILE, DEFAULTS_INI
from splitter.campaign.machines import MACHINES_FILE, MAX_NAME_LENGTH, machine_name_problem
from splitter.errors import ConfigError

__all__ = [
    "PLACEHOLDER_MACHINE",
    "InitResult",
    "config_template",
    "default_machine_name",
    "machines_template",
    "write_templates",
]

PLACEHOLDER_MACHINE = "other-host"
_LONG_FORM = '{"perf": 1.0, "cores": 4, "gpus": 0, "mem": "16G", "tags": []}'

_HEADER = """\
# splitter.ini: the runner's settings ([logging], [results], [run], [owner]) and
# your own sections. Jobs see all of it through `config`. Every value but those of
# [owner] counts in the plan digest (comments and spacing do not), so copy the same
# file to every machine; [owner] may differ from desk to desk.
# Each runner option below is at its default.

"""

# What each runner option does, written above it; the values come from DEFAULTS_INI.
_EXPLAINED = {
    "level": "Least important messages to log: DEBUG, INFO, WARNING, ERROR or CRITICAL.",
    "format": "Layout of a log line, Python logging %-style; %(machine)s is this machine's name.",
    "max_file_size": (
        "Size at which log.zst is set aside as log.N.zst and a new one begun: bytes with\n"
        "an optional unit, like 512, 64k or 64KiB (1024-based), 64kB (1000-based), 1.5G."
    ),
    "per_job": "Also write one log file per job: true or false.",
    "columns": (
        "Column names, comma-separated, for jobs that return a tuple or list;\n"
        "leave empty to take the columns from the jobs' return values."
    ),
    "compression_level": "zstd compression level of the results, a whole number from 1 to 19.",
    "seed": (
        "The campaign's seed: another whole number draws an independent replica of the\n"
        "same campaign (every job's random_obj and SPLITTER_SEED change, and its place)."
    ),
    "nice": "Niceness of the worker processes, a whole number from 0 (normal) to 19 (lowest).",
    "progress_interval": (
        "Seconds between plain progress lines when the console is not a terminal."
    ),
    "job_timeout": (
        "Seconds a job may run before it is stopped and recorded as timeout; 0 means no limit."
    ),
    "flush_interval": (
        "Seconds at most between flushes of the results file to disk, above 0 and at most 1."
    ),
    "pin_cores": (
        "Pin each job to the cores it holds (CPU affinity) where the OS allows: true or false."
    ),
    "enforce_mem": (
        "Stop a job that uses more memory than its needs declare (mem=8G) and record it\n"
        "as error, so it cannot take the host down: true or false."
    ),
    "max_load": (
        "Pause while other processes keep more than this many cores busy (this run's own\n"
        "do not count), like 2; empty: no such rule."
    ),
    "idle_minutes": (
        "Pause while someone used this machine's keyboard or mouse, or typed in a terminal,\n"
        "in the last this many minutes, like 15; empty: no such rule. Where that cannot be\n"
        "read, the log says so once and the rule is ignored."
    ),
    "hours": (
        "Run only inside these hours (local time): windows of days, a time range or both,\n"
        "like 19:00-07:00 (nights) or weekdays 19:00-07:00, weekends (nights and weekends);\n"
        "days are mon..sun, a range like mon-fri, weekdays, weekends, daily. Empty: any hour."
    ),
    "grace": "Seconds every rule must stay clear before a paused run continues (no flapping).",
    "running_jobs": (
        "What a rule's pause does to running jobs: stop (in place, memory kept) or finish\n"
        "(they finish, and no new one starts)."
    ),
    "check_interval": "Seconds between looks at the load, the keyboard and the clock.",
}

# Written above a section's header.
_SECTIONS = {
    "[owner]": (
        "When this workstation's owner wants it back. Not part of the plan digest: each\n"
        "machine may have its own (jobs should not read it). By hand, from any terminal:\n"
        "splitter pause OUT/<machine> [--soft], splitter continue OUT/<machine>,\n"
        "splitter workers OUT/<machine> N."
    ),
}

# Commented out, so a campaign of Python jobs keeps its digest.
_TASKS = """\

# For task files (`splitter run --tasks FILE`): uncomment what you change.
# [tasks]
# Shell that runs each task line: a name on PATH or a full path (empty: bash, else /bin/sh).
# shell =
# Also keep every task's whole output in OUT/<machine>/tasks/: true or false.
# keep_output = false
# Folder tasks run in, relative to the one splitter starts in (empty: that folder).
# cwd =
"""

_YOUR_SECTIONS = """\

# Your own sections follow; a job reads them like config.getint("job", "steps").
[job]
steps = 100
"""


@dataclass(frozen=True)
class InitResult:
    """What ``write_templates`` did: files it wrote, and files it left as they were."""

    written: tuple[Path, ...]
    existing: tuple[Path, ...]


def default_machine_name(hostname: str) -> str:
    """A valid machine name for this host: its first label, made folder-safe."""
    label = hostname.split(".")[0]
    name = re.sub(r"[^A-Za-z0-9._-]", "-", label)[:MAX_NAME_LENGTH]
    if not name:
        return "this-host"
    # With only those characters and no dot, a Windows device name (CON, NUL,
    # COM1...) is the one problem left.
    if machine_name_problem(name) is not None:
        return f"{name}-host"
    return name


def machines_template(hostname: str, cores: int) -> str:
    """machines.json text with this host and a placeholder for another machine.

    JSON has no comments, so the placeholder is written in the long form: it
    shows where GPUs, memory and tags go.
    """
    if cores < 1:
        raise ValueError(f"cores must be at least 1, not {cores}")
    name = default_machine_name(hostname)
    other = "another-host" if name.lower() == PLACEHOLDER_MACHINE else PLACEHOLDER_MACHINE
    entries = [f"  {json.dumps(name)}: [1.0, {cores}]", f"  {json.dumps(other)}: {_LONG_FORM}"]
    return "{\n" + ",\n".join(entries) + "\n}\n"


def config_template() -> str:
    """splitter.ini text: every runner option at its default, explained, [tasks], a [job]."""
    lines: list[str] = []
    for line in DEFAULTS_INI.splitlines():
        option = line.partition("=")[0].strip()
        if "=" in line and option in _EXPLAINED:
            lines.extend(f"# {text}" for text in _EXPLAINED[option].split("\n"))
        if line in _SECTIONS:
            lines.extend(f"# {text}" for text in _SECTIONS[line].split("\n"))
        lines.append(line)
    return _HEADER + "\n".join(lines) + "\n" + _TASKS + _YOUR_SECTIONS


def write_templates(directory: Path, hostname: str, cores: int) -> InitResult:
    """Write machines.json and splitter.ini into ``directory``, never overwriting a file."""
    templates = (
        (directory / MACHINES_FILE, machines_template(hostname, cores)),
        (directory / CONFIG_FILE, config_template()),
    )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"{directory} cannot be created as a folder ({error.strerror}); "
            "pass --configs with a folder you can write to"
        ) from None
    written: list[Path] = []
    existing: list[Path] = []
    for path, text in templates:
        (written if _write_new(path, text) else existing).append(path)
    return InitResult(written=tuple(written), existing=tuple(existing))


def _write_new(path: Path, text: str) -> bool:
    """Write a new file; False, touching nothing, if it already exists."""
    try:
        with path.open("x", encoding="utf-8") as file:
            file.write(text)
    except FileExistsError:
        return False
    except OSError as error:
        raise ConfigError(
            f"{path} cannot be written ({error.strerror}); "
            "pass --configs with a folder you can write to"
        ) from None
    return True
