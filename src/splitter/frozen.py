"""The one-file binary's start: die with the bootloader, hold our unpack folder, clean up.

A PyInstaller one-file binary is a bootloader with an archive appended. On
every start the bootloader (the parent process) unpacks the archive into a
new folder in the temp dir, runs the program from it in a child process, and
deletes the folder when the child exits:

    bootloader, pid P --unpacks--> $TMPDIR/_MEI<P as 8 hex digits><6 random>/  (mode 0700)
          |                           |  splitter_bundle: our marker, only in our binaries
          |                           +-- main process: maps libpython from it, holds a shared
          |                           |   lock on the marker while it lives (frozen_start)
          |                           +-- worker processes: map libraries from it too
          +-- deletes the folder when the main process exits

The pid a shell shows for the binary (``$!``) is the bootloader's. It passes
SIGTERM and SIGINT on to the main process; killed with SIGKILL, it cannot, so
``frozen_start()`` has the kernel send the main process SIGTERM when its
bootloader dies (PR_SET_PDEATHSIG, Linux): the run stops at once, its workers
die with it, and their keepers kill their tasks.

Killed with SIGKILL, the bootloader cannot delete its folder either, and
tens of MB stay behind on every such kill. ``frozen_start()`` runs once in the main process
(workers leave through ``freeze_support()`` before it) and removes such
folders, conservatively. A folder goes only if all of these hold:

1. its name is PyInstaller's (``_MEI`` + 8 hex digits + 6 characters), it is
   a real folder (not a symlink), ours (our uid) and private (mode 0700);
2. it holds our marker: a splitter binary made it;
3. it is not ours, and is older than ``STALE_AFTER_SECONDS`` (a binary that
   is still unpacking or starting is never judged);
4. the bootloader whose pid its name carries is gone;
5. no process of ours maps a file from it (an orphaned program or worker),
   has its working directory in it, or holds a file in it open;
6. we get an exclusive lock on its marker: no live splitter main process
   holds its shared one, even from another pid namespace sharing the temp dir.

Outside a one-file binary it does nothing; on systems without ``/proc`` it
only takes its own lock, as there is no safe way to judge the rest.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from splitter.run.lifeline import die_with_parent

__all__ = [
    "MARKER",
    "STALE_AFTER_SECONDS",
    "UnpackFolder",
    "frozen_start",
    "remove_stale_unpack_folders",
]

MARKER = "splitter_bundle"
"""The file every splitter binary carries at the top of its unpack folder."""

MARKER_TEXT = "Unpacked by a splitter one-file binary; removed when stale (splitter.frozen).\n"

STALE_AFTER_SECONDS = 600.0
"""Folders younger than this are never touched, whatever else they look like."""

# PyInstaller 6 on POSIX: mkdtemp("_MEI%08x" % bootloader_pid + "XXXXXX"), mode 0700.
_NAME = re.compile(r"_MEI([0-9a-f]{8})[A-Za-z0-9_]{6}")
_PROC = Path("/proc")

# The shared lock on our own marker, held until the process exits.
_held: IO[bytes] | None = None


@dataclass(frozen=True)
class UnpackFolder:
    """One ``_MEI*`` folder in the temp dir, as ``lstat`` and its name show it."""

    path: Path
    bootloader_pid: int
    owner: int
    mode: int
    modified: float
    has_marker: bool


def frozen_start() -> list[Path]:
    """In a one-file binary's main process: die with the bootloader, lock our folder, clean up.

    Returns the folders removed; does nothing (and returns []) when not frozen.
    """
    bundle = getattr(sys, "_MEIPASS", None)
    if not getattr(sys, "frozen", False) or bundle is None:
        return []
    own = Path(bundle)
    name = _NAME.fullmatch(own.name)
    if name is None:
        return []  # A one-folder build: one process, nothing unpacked, nothing goes stale.
    die_with_parent(_bootloader(), signal.SIGTERM)
    _hold(own / MARKER)
    if not (_PROC / "self" / "maps").exists():
        return []
    return remove_stale_unpack_folders(own.parent, own)


def _bootloader() -> int:
    """Our parent's pid if it is our bootloader (it runs this binary too); 0 if it has gone.

    Not the pid in the folder's name: a binary started by its own program
    (``slurm-script`` probing the digest) shares its parent's folder.
    """
    parent = os.getppid()
    try:
        ours = os.readlink(f"/proc/{parent}/exe") == os.readlink("/proc/self/exe")
    except OSError:
        return parent  # No /proc, or not ours to read: trust the parent.
    return parent if ours else 0


def remove_stale_unpack_folders(
    temp_dir: Path,
    own: Path | None = None,
    *,
    now: float | None = None,
    min_age: float = STALE_AFTER_SECONDS,
) -> list[Path]:
    """Remove the stale unpack folders of splitter binaries in ``temp_dir``; return them.

    Linux only (it reads ``/proc``). Never raises OSError: a folder it cannot
    judge or remove is left alone.
    """
    moment = time.time() if now is None else now
    candidates = [
        folder
        for folder in _unpack_folders(temp_dir)
        if folder.path != own and _ours_and_old(folder, moment, min_age)
    ]
    if not candidates:
        return []
    used = _used_folders(temp_dir)
    removed = []
    for folder in candidates:
        if folder.path.name in used or _alive(folder.bootloader_pid):
            continue
        if _remove_unless_locked(folder.path):
            removed.append(folder.path)
    return removed


def _ours_and_old(folder: UnpackFolder, now: float, min_age: float) -> bool:
    """The checks from ``lstat``: a splitter binary's folder, ours, old enough."""
    return (
        folder.has_marker
        and folder.owner == os.getuid()
        and stat.S_ISDIR(folder.mode)
        and stat.S_IMODE(folder.mode) == 0o700
        and now - folder.modified >= min_age
    )


def _unpack_folders(temp_dir: Path) -> Iterable[UnpackFolder]:
    try:
        names = os.listdir(temp_dir)
    except OSError:
        return
    for name in names:
        match = _NAME.fullmatch(name)
        if match is None:
            continue
        path = temp_dir / name
        try:
            info = path.lstat()
        except OSError:
            continue  # Removed while we looked.
        yield UnpackFolder(
            path, int(match[1], 16), info.st_uid, info.st_mode, info.st_mtime, _has_marker(path)
        )


def _has_marker(path: Path) -> bool:
    try:
        return stat.S_ISREG((path / MARKER).lstat().st_mode)
    except OSError:
        return False


def _alive(pid: int) -> bool:
    """Whether a process with this pid exists (in our pid namespace)."""
    if pid <= 0:
        return True  # Not a real bootloader pid: do not judge.
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # It exists, and belongs to someone else.
    return True


def _used_folders(temp_dir: Path) -> set[str]:
    """Names of the ``_MEI*`` folders in ``temp_dir`` that a process of ours uses.

    Used means: maps a file from it, has its working directory in it, or
    holds a file in it open. A process whose /proc entries cannot be read
    (not dumpable, like a container's init) is passed over: a binary's main
    process and workers are ordinary ones, and a live main process also
    holds its marker's lock.
    """
    # /proc shows real paths: compare with the temp dir's, symlinks resolved.
    prefix = os.path.realpath(temp_dir) + "/"
    uid = os.getuid()
    found: set[str] = set()
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            paths = _paths_in_use(entry)
        except OSError:
            continue  # It exited while we looked, or it is not ours to read.
        for path in paths:
            start = path.find(prefix)
            if start >= 0:
                found.add(path[start + len(prefix) :].split("/", 1)[0])
    return found


def _paths_in_use(process: Path) -> list[str]:
    """The mapped files (whole maps lines), working directory and open files of a process."""
    paths = (process / "maps").read_text(errors="replace").splitlines()
    paths.append(os.readlink(process / "cwd") + "/")
    for fd in os.listdir(process / "fd"):
        try:
            paths.append(os.readlink(process / "fd" / fd))
        except OSError:
            continue  # Closed while we looked.
    return paths


def _remove_unless_locked(path: Path) -> bool:
    """Delete ``path`` while holding an exclusive lock on its marker; False if any is held."""
    import fcntl

    try:
        marker = (path / MARKER).open("rb")
    except OSError:
        return False
    with marker:
        try:
            fcntl.flock(marker.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # A live splitter process holds it (maybe from another namespace).
        shutil.rmtree(path, ignore_errors=True)
    return not path.exists()


def _hold(marker: Path) -> None:
    """Hold a shared lock on our own marker so no other start judges our folder stale."""
    global _held
    if _held is not None or sys.platform == "win32":
        return
    import fcntl

    try:
        handle = marker.open("rb")
    except OSError:
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return
    _held = handle
