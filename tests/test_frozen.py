"""Stale unpack folders: only a dead splitter binary's old folder is ever removed."""

from __future__ import annotations

import fcntl
import mmap
import os
import time
from pathlib import Path

import pytest

from splitter.frozen import MARKER, MARKER_TEXT, frozen_start, remove_stale_unpack_folders

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/maps").exists(), reason="stale folders are only judged where /proc is"
)

HOUR_AGO = time.time() - 3600


def dead_pid() -> int:
    """A pid no process can have: pids stay below pid_max."""
    return int(Path("/proc/sys/kernel/pid_max").read_text())


def unpack_folder(
    temp: Path, pid: int, suffix: str = "aB3_x9", *, marker: bool = True, age: float = HOUR_AGO
) -> Path:
    """A folder as PyInstaller's bootloader names it: _MEI + pid in 8 hex digits + 6 chars."""
    folder = temp / f"_MEI{pid:08x}{suffix}"
    folder.mkdir(mode=0o700)
    (folder / "libpython3.11.so.1.0").write_bytes(b"\0" * 4096)
    if marker:
        (folder / MARKER).write_text(MARKER_TEXT)
    os.utime(folder, (age, age))
    return folder


def test_an_old_folder_of_a_dead_splitter_binary_is_removed(tmp_path: Path) -> None:
    folder = unpack_folder(tmp_path, dead_pid())

    assert remove_stale_unpack_folders(tmp_path) == [folder]
    assert not folder.exists()


def test_a_folder_without_our_marker_is_kept(tmp_path: Path) -> None:
    folder = unpack_folder(tmp_path, dead_pid(), marker=False)

    assert remove_stale_unpack_folders(tmp_path) == []
    assert folder.is_dir()


def test_a_folder_younger_than_the_grace_period_is_kept(tmp_path: Path) -> None:
    folder = unpack_folder(tmp_path, dead_pid(), age=time.time() - 60)

    assert remove_stale_unpack_folders(tmp_path, min_age=600) == []
    assert folder.is_dir()


def test_a_folder_whose_bootloader_still_runs_is_kept(tmp_path: Path) -> None:
    folder = unpack_folder(tmp_path, os.getpid())

    assert remove_stale_unpack_folders(tmp_path) == []
    assert folder.is_dir()


def test_a_folder_a_live_process_maps_a_library_from_is_kept(tmp_path: Path) -> None:
    # An orphaned program or worker whose bootloader was killed still runs from it.
    folder = unpack_folder(tmp_path, dead_pid())
    with (folder / "libpython3.11.so.1.0").open("rb") as library:
        mapping = mmap.mmap(library.fileno(), 0, prot=mmap.PROT_READ)
        try:
            assert remove_stale_unpack_folders(tmp_path) == []
        finally:
            mapping.close()
    assert folder.is_dir()


def test_a_folder_a_live_process_works_in_is_kept(tmp_path: Path) -> None:
    folder = unpack_folder(tmp_path, dead_pid())
    here = os.getcwd()
    os.chdir(folder)
    try:
        assert remove_stale_unpack_folders(tmp_path) == []
    finally:
        os.chdir(here)
    assert folder.is_dir()


def test_a_folder_a_live_process_holds_a_file_open_in_is_kept(tmp_path: Path) -> None:
    folder = unpack_folder(tmp_path, dead_pid())
    (folder / "data").mkdir(mode=0o700)
    os.utime(folder, (HOUR_AGO, HOUR_AGO))
    with (folder / "data" / "table.bin").open("wb"):
        assert remove_stale_unpack_folders(tmp_path) == []
    assert folder.is_dir()


def test_a_folder_whose_marker_a_live_program_locks_is_kept(tmp_path: Path) -> None:
    # What a splitter main process in another pid namespace looks like from here.
    folder = unpack_folder(tmp_path, dead_pid())
    with (folder / MARKER).open("rb") as marker:
        fcntl.flock(marker.fileno(), fcntl.LOCK_SH)
        assert remove_stale_unpack_folders(tmp_path) == []
    assert folder.is_dir()


def test_our_own_folder_is_kept(tmp_path: Path) -> None:
    folder = unpack_folder(tmp_path, dead_pid())

    assert remove_stale_unpack_folders(tmp_path, own=folder) == []
    assert folder.is_dir()


def test_a_folder_open_to_others_or_a_symlink_is_kept(tmp_path: Path) -> None:
    shared = unpack_folder(tmp_path, dead_pid(), "shared")
    shared.chmod(0o755)
    os.utime(shared, (HOUR_AGO, HOUR_AGO))
    target = unpack_folder(tmp_path, dead_pid(), "target")
    link = tmp_path / f"_MEI{dead_pid():08x}linked"
    link.symlink_to(target)

    removed = remove_stale_unpack_folders(tmp_path)

    assert removed == [target]
    assert shared.is_dir()
    assert link.is_symlink()


def test_names_that_only_look_alike_are_never_judged(tmp_path: Path) -> None:
    for name in ("_MEI12345", f"_MEI{dead_pid():08x}toolong7", "_mei00000001abcdef"):
        folder = tmp_path / name
        folder.mkdir(mode=0o700)
        (folder / MARKER).write_text(MARKER_TEXT)
        os.utime(folder, (HOUR_AGO, HOUR_AGO))

    assert remove_stale_unpack_folders(tmp_path) == []
    assert len(list(tmp_path.iterdir())) == 3


def test_outside_a_binary_the_start_hook_does_nothing() -> None:
    assert frozen_start() == []
