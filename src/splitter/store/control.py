"""OUT/<machine>/control.json: what this host's owner asks of the run in that folder.

    splitter pause / continue / workers --write (temp file, rename)--> control.json
    the run --stat every quarter second; read when it changed--> pause, resume, workers

The folder is the handle: any terminal of the host may write the file, and
the run reads it on its next poll. A file, not a signal to the pid in
run.lock: it carries the request's content (soft or not, how many workers),
it cannot reach another process that reused a dead run's pid, it reaches a
run in any thread (a library call) and on any system, and the folder's
permissions already say who may steer the run. Each request names the run
it is for (``run``, from the manifest), so a file left by an earlier run of
the folder is ignored. Writers hold a lock on the folder for their
read-modify-write, so a ``pause`` and a ``workers`` given at once both count.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from splitter.store.frames import CorruptFileError, open_regular
from splitter.store.manifest import write_text_atomically

__all__ = [
    "CONTROL_NAME",
    "PAUSE_MODES",
    "Control",
    "control_signature",
    "folder_locked",
    "read_control",
    "write_control",
]

CONTROL_NAME = "control.json"
PAUSE_MODES = ("stop", "finish")
"""stop: running jobs stop in place; finish: they finish, and no new job starts."""
_MAX_BYTES = 4096


@dataclass(frozen=True)
class Control:
    """A request to the run ``run``: pause (a mode) or not, and at most how many workers."""

    run: str
    pause: str | None = None
    workers: int | None = None


def write_control(folder: Path, control: Control) -> None:
    """Replace the folder's control.json with ``control`` (readers never see half a file)."""
    data = {"run": control.run, "pause": control.pause, "workers": control.workers}
    write_text_atomically(folder / CONTROL_NAME, json.dumps(data, sort_keys=True) + "\n")


def read_control(folder: Path) -> Control | None:
    """The folder's request, or None when there is none; CorruptFileError if it is not one."""
    path = folder / CONTROL_NAME
    try:
        with open_regular(path) as f:
            data = json.loads(f.read(_MAX_BYTES + 1).decode("utf-8"))
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise _corrupt(path)
    run, pause, workers = data.get("run"), data.get("pause"), data.get("workers")
    if not isinstance(run, str) or pause not in (None, *PAUSE_MODES):
        raise _corrupt(path)
    if workers is not None and (type(workers) is not int or workers < 1):
        raise _corrupt(path)
    return Control(run, pause, workers)


def control_signature(folder: Path) -> tuple[int, int, int] | None:
    """What changes whenever control.json is replaced (None: there is none), for cheap polls."""
    try:
        stat = os.stat(folder / CONTROL_NAME)
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


@contextlib.contextmanager
def folder_locked(folder: Path) -> Iterator[None]:
    """Hold a lock on the folder itself (not run.lock, which the run holds) while writing."""
    if sys.platform == "win32":
        yield  # no flock on a folder there; two requests in the same instant may race
        return
    import fcntl

    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _corrupt(path: Path) -> CorruptFileError:
    return CorruptFileError(
        f"{path} is not a request splitter wrote; move it aside, then pause, continue or set "
        "the workers again"
    )
