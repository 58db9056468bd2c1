"""Tests for splitter.store.lock: one run at a time per output folder."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from splitter.errors import ConfigError, describe_os_error
from splitter.store.lock import LOCK_NAME, FolderLock, LockProbe, locked_beside, probe_lock
from test_run_e2e import ENTRY, rows, run, write_campaign


def test_a_second_lock_on_a_held_folder_is_refused_naming_pid_and_host(tmp_path: Path) -> None:
    folder = tmp_path / "out" / "alpha"
    with FolderLock(folder) as held, pytest.raises(ConfigError) as refused:
        held.sign()
        FolderLock(folder).acquire()
    assert str(refused.value) == (
        f"{folder} is in use by another run (pid {os.getpid()} on host {socket.gethostname()});"
        " wait for it to end or stop it, or pass another --out"
    )


def test_a_signed_lock_names_its_holder_until_released_and_its_file_stays(
    tmp_path: Path,
) -> None:
    with FolderLock(tmp_path) as lock:
        assert (tmp_path / LOCK_NAME).read_text() == ""
        lock.sign()
        assert (tmp_path / LOCK_NAME).read_text() == (
            f"pid {os.getpid()} on host {socket.gethostname()}\n"
        )
    assert (tmp_path / LOCK_NAME).read_text() == ""
    with FolderLock(tmp_path):
        pass


def test_a_held_lock_not_yet_signed_is_refused_as_a_starting_run(tmp_path: Path) -> None:
    with FolderLock(tmp_path), pytest.raises(ConfigError, match=r"\(a run that is starting\)"):
        FolderLock(tmp_path).acquire()


def test_taking_the_lock_again_moves_it_to_the_folders_new_lock_file(tmp_path: Path) -> None:
    folder = tmp_path / "alpha"
    with FolderLock(folder) as lock:
        lock.sign()
        os.rename(folder, tmp_path / "alpha.previous")
        lock.acquire()
        assert (folder / LOCK_NAME).read_text().startswith(f"pid {os.getpid()} ")
        with pytest.raises(ConfigError):
            FolderLock(folder).acquire()
        FolderLock(tmp_path / "alpha.previous").acquire().release()  # the old one is free


def _slow_run(tmp_path: Path) -> subprocess.Popen[bytes]:
    write_campaign(tmp_path, job="sleep = 0.2")
    return subprocess.Popen(
        [sys.executable, str(ENTRY), "run", "--all", "--yes", "--configs", "configs"],
        cwd=tmp_path, env={**os.environ, "CAMPAIGN_SIZE": "40"}, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def _wait_for_rows(results: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (results.exists() and results.stat().st_size):
        time.sleep(0.1)


def test_a_second_run_on_a_folder_in_use_exits_2_and_a_killed_run_frees_it(
    tmp_path: Path,
) -> None:
    first = _slow_run(tmp_path)
    try:
        _wait_for_rows(tmp_path / "results" / "all" / "results.csv.zst")
        second = run(tmp_path, "--all", size=40)
        assert second.returncode == 2
        assert (
            f"results{os.sep}all is in use by another run (pid {first.pid} on host"
            f" {socket.gethostname()})" in second.stderr
        )
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    resumed = run(tmp_path, "--all", size=40)
    assert resumed.returncode == 0, resumed.stderr
    recorded = sorted(int(row["job_id"]) for row in rows(tmp_path / "results" / "all"))
    assert recorded == list(range(40))  # every job once: no second writer interleaved


def test_the_probe_of_a_folder_without_a_lock_file_cannot_tell(tmp_path: Path) -> None:
    assert probe_lock(tmp_path) == LockProbe(None)
    assert not (tmp_path / LOCK_NAME).exists()


def test_the_probe_sees_a_held_lock_and_its_holder_then_a_free_one(tmp_path: Path) -> None:
    with FolderLock(tmp_path) as lock:
        assert probe_lock(tmp_path) == LockProbe(True)
        lock.sign()
        assert probe_lock(tmp_path) == LockProbe(True, os.getpid(), socket.gethostname())
        with pytest.raises(ConfigError):
            FolderLock(tmp_path).acquire()  # the probes let go of nothing
    assert probe_lock(tmp_path) == LockProbe(False)
    FolderLock(tmp_path).acquire().release()  # nor kept the lock it took


def test_the_probe_of_a_killed_runs_lock_is_free_and_names_the_dead_holder(
    tmp_path: Path,
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from splitter.store.lock import FolderLock; "
         "FolderLock(Path(sys.argv[1])).acquire().sign(); print('held', flush=True); "
         "time.sleep(60)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert probe_lock(tmp_path) == LockProbe(True, holder.pid, socket.gethostname())
    finally:
        holder.kill()
        holder.wait()
    assert probe_lock(tmp_path) == LockProbe(False, holder.pid, socket.gethostname())


def test_an_update_of_a_file_another_process_is_updating_waits_then_says_who(
    tmp_path: Path,
) -> None:
    path = tmp_path / "machines.json"
    with (
        locked_beside(path) as lock,
        pytest.raises(ConfigError) as refused,
        locked_beside(path, wait=0.1),
    ):
        pass
    assert str(refused.value) == (
        f"{path} is being updated by another process, which holds {lock}; wait for it to"
        " finish, then run again"
    )
    with locked_beside(path, wait=0.1):
        pass  # free again once the first let go


def test_a_full_disk_when_signing_the_lock_names_the_lock_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    folder = tmp_path / "out" / "alpha"
    with FolderLock(folder) as lock:
        monkeypatch.setattr(os, "write", full)
        with pytest.raises(OSError) as caught:
            lock.sign()
    assert caught.value.filename == str(folder / LOCK_NAME)
    assert describe_os_error(caught.value) == (
        f"cannot use {folder / LOCK_NAME} (No space left on device); free some space, then"
        " run the same command again (a run resumes where it stopped)"
    )


def test_a_full_disk_at_start_exits_2_with_one_sentence(tmp_path: Path) -> None:
    # /dev/full refuses every write with ENOSPC, as a full disk does.
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full (Linux) to fill the disk at the lock")
    write_campaign(tmp_path)
    folder = tmp_path / "results" / "alpha"
    folder.mkdir(parents=True)
    (folder / LOCK_NAME).symlink_to("/dev/full")
    done = run(tmp_path, "--machine", "alpha")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"campaign_main.py: error: cannot use {Path('results') / 'alpha' / LOCK_NAME} (No space"
        " left on device); free some space, then run the same command again (a run resumes"
        " where it stopped)"
    )
