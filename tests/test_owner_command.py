"""The owner's commands against a folder's manifest and lock, with no run to answer them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from splitter.errors import UsageError
from splitter.run.owner import command
from splitter.run.owner.command import continue_run, pause_run, set_workers
from splitter.store.control import Control, read_control
from splitter.store.lock import FolderLock
from splitter.store.manifest import write_manifest

DASK = {"run": "r1", "workers": 4, "paused": None, "stops_in_place": False, "most_workers": None}


def live_folder(tmp_path: Path, owner: dict[str, Any] | None) -> Path:
    folder = tmp_path / "out" / "alpha"
    folder.mkdir(parents=True)
    data: dict[str, Any] = {"machine": "alpha", "state": "running",
                            "versions": {"splitter": "0.0.9"}}  # fmt: skip
    if owner is not None:
        data["owner"] = owner
    write_manifest(folder / "manifest.json", data)
    return folder


def test_a_dask_run_refuses_to_stop_in_place_and_to_change_its_workers(tmp_path: Path) -> None:
    folder = live_folder(tmp_path, DASK)
    with FolderLock(folder):
        with pytest.raises(UsageError) as hard:
            pause_run(folder, soft=False)
        with pytest.raises(UsageError) as workers:
            set_workers(folder, 2)
    assert str(hard.value) == (
        f"the run in {folder} cannot stop its jobs in place (its workers are a Dask cluster's, "
        "which would take a stopped worker for dead); pass --soft to let the running jobs "
        "finish and start no new one"
    )
    assert str(workers.value) == (
        f"the run in {folder} runs on Dask, whose workers are its concurrency; start or stop "
        "`dask worker` processes instead"
    )
    assert read_control(folder) is None


def test_a_request_the_run_does_not_confirm_stands_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(command, "ACK_SECONDS", 0.1)
    folder = live_folder(tmp_path, DASK)
    with FolderLock(folder):
        said = pause_run(folder, soft=True)
        with pytest.raises(UsageError, match="is paused by hand already"):
            pause_run(folder, soft=True)
        continue_run(folder)
    assert said == (
        "asked alpha to pause, but it has not confirmed within 0.1s; "
        f"`splitter status {folder}` shows whether it still runs"
    )
    assert read_control(folder) == Control("r1", None, None)


def test_a_run_of_an_older_splitter_or_one_starting_is_named(tmp_path: Path) -> None:
    older = live_folder(tmp_path / "a", None)
    starting = live_folder(tmp_path / "b", {"run": "r2", "workers": 2, "paused": None})
    with FolderLock(older), pytest.raises(UsageError) as old:
        pause_run(older, soft=False)
    with FolderLock(starting), pytest.raises(UsageError) as soon:
        continue_run(starting)
    assert str(old.value) == (
        f"the run in {older} was started by a splitter without pause and workers (version "
        "0.0.9); stop it and run it again with this one to steer it"
    )
    assert str(soon.value) == f"the run in {starting} is starting; try again in a second"


def test_a_running_manifest_with_no_process_holding_the_lock_is_no_live_run(
    tmp_path: Path,
) -> None:
    folder = live_folder(tmp_path, DASK)
    with pytest.raises(UsageError) as caught:
        set_workers(folder, 1)
    assert str(caught.value) == (
        f"no run is running in {folder} (it was stopped; its manifest says 'running'); there is "
        "nothing to change the workers of until `run` resumes it"
    )
