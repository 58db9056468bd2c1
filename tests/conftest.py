"""Shared test helpers: a campaign folder (configs + entry script) and a way to run it.

``run_cli`` runs an entry script, ``run_module`` runs ``python -m splitter``; both
in a subprocess with this interpreter, stdin closed unless ``input`` is given
(so no test can hang on a prompt), and ``SPLITTER_MACHINE`` removed from the
environment unless ``env`` sets it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import settings

# Timing is for benchmarks, not tests: a shared, noisy CI machine must not turn
# a slow example into a failure. Examples stay random; failures print their seed.
settings.register_profile("splitter", deadline=None, print_blob=True)
settings.load_profile("splitter")

MACHINES = {"alpha": [1.0, 2], "beta": [1.5, 2], "gamma": [0.5, 4]}
CONFIG = "[job]\nsteps = 20\n"
POOL = "list(range(10))"
ENTRY = "main.py"

_ENTRY_TEMPLATE = '''\
"""A tiny campaign for the command-line tests."""

import splitter

{prelude}


def job(item):
    return {{"item": repr(item)}}


if __name__ == "__main__":
    splitter.main(job, {pool})
'''


def write_configs(folder: Path, machines: object = MACHINES, config: str | None = CONFIG) -> Path:
    """Write machines.json (a str as it is, else as JSON) and splitter.ini (unless None)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = machines if isinstance(machines, str) else json.dumps(machines, indent=2)
    (folder / "machines.json").write_text(text, encoding="utf-8")
    if config is not None:
        (folder / "splitter.ini").write_text(config, encoding="utf-8")
    return folder


def write_entry(path: Path, pool: str = POOL, prelude: str = "") -> Path:
    """Write an entry script that calls ``splitter.main(job, <pool expression>)``."""
    path.write_text(_ENTRY_TEMPLATE.format(pool=pool, prelude=prelude), encoding="utf-8")
    return path


@pytest.fixture
def campaign_dir(tmp_path: Path) -> Path:
    """tmp_path holding ./configs (three machines) and ./main.py (a pool of ten ints)."""
    write_configs(tmp_path / "configs")
    write_entry(tmp_path / ENTRY)
    return tmp_path


def run_cli(
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    *,
    entry: Path | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``python <entry> ARGS`` in ``cwd``; ``entry`` defaults to ``cwd / "main.py"``."""
    script = entry if entry is not None else cwd / ENTRY
    return _run([str(script), *args], cwd, env, input, timeout)


def run_module(
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    *,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m splitter ARGS`` in ``cwd``."""
    return _run(["-m", "splitter", *args], cwd, env, input, timeout)


def _run(
    argv: list[str],
    cwd: Path,
    env: Mapping[str, str] | None,
    input: str | None,
    timeout: float,
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "SPLITTER_MACHINE"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, *argv],
        cwd=cwd,
        env=environment,
        input=input,
        stdin=subprocess.DEVNULL if input is None else None,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )
