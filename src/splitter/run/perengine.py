"""A task file's PERENGINE commands: run once on a host, before its first task or after its last.

Runs where the engine calls it: in the parent for the local pool, on one
Dask worker per host for ``--dask``. Each command runs as ``SHELL -c COMMAND``
in the current folder with the host's variables (`engine_variables`), one
after the other; its output goes to the log, and a failure is logged as a
warning while the tasks run all the same, as in disBatch. Output goes through
files, not pipes, so a START that leaves a service running in the background
(which its STOP ends) does not hold the run.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from collections.abc import Sequence
from typing import IO

from splitter.campaign.directives import EngineCommand
from splitter.run.engine import JobSetup, LogLines
from splitter.run.taskenv import EnginePlace, engine_variables
from splitter.run.taskoutput import LOG_BYTES

__all__ = ["run_engine_commands"]


def run_engine_commands(
    commands: Sequence[EngineCommand],
    stage: str,
    shell: str,
    env: dict[str, str],
    setup: JobSetup,
    name: str,
) -> LogLines:
    """Run ``commands`` (the START or STOP ones, by ``stage``) here; return what to log."""
    lines: LogLines = []
    out = str(setup.folder) if setup.folder is not None else os.getcwd()
    for index, command in enumerate(commands):
        place = EnginePlace(
            setup.machine, out, index, command.line, name, setup.plan_digest, setup.machine_rank
        )
        what = f"PERENGINE {stage.upper()} of line {command.line}"
        with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
            try:
                code = subprocess.run(
                    [shell, "-c", command.command], env={**env, **engine_variables(place)},
                    stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, check=False,
                ).returncode  # fmt: skip
            except OSError as exc:
                lines.append((logging.WARNING, f"{what} could not start: {exc}"))
                continue
            lines += _output(what, "out", stdout) + _output(what, "err", stderr)
        if code:
            lines.append(
                (logging.WARNING, f"{what} exited with code {code}; the tasks run all the same")
            )
    return lines


def _output(what: str, stream: str, file: IO[bytes]) -> LogLines:
    file.seek(0)
    text = file.read(LOG_BYTES).decode("utf-8", "backslashreplace")
    return [(logging.INFO, f"{what} {stream}: {line}") for line in text.splitlines()]
