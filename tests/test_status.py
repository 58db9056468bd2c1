"""Tests for splitter.merge.status and `status`: finished, cut and live host folders."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_module
from splitter.cli import Program, run_cli
from splitter.merge.status import folder_status, status_table, unseen_machines
from splitter.store.frames import CorruptFileError, FrameWriter
from splitter.store.hostfolder import read_host
from splitter.store.lock import LOCK_NAME, FolderLock
from splitter.store.manifest import read_manifest, write_manifest
from splitter.store.results import ResultsReader
from test_merge import START, make_host, ok_rows

ENTRY = Path(__file__).parent / "entries" / "campaign_main.py"


def test_status_counts_distinct_jobs_by_their_best_attempt(tmp_path: Path) -> None:
    rows = [
        (0, "error", START, None), (0, "ok", START + 1, {"v": 1}), (1, "crashed", START, None),
        (2, "timeout", START, None), (2, "error", START + 1, None),
    ]  # fmt: skip
    host = make_host(tmp_path / "a", "alpha", rows, total=9)
    manifest = read_manifest(host)
    write_manifest(host / "manifest.json", {**manifest, "share": 5})
    status = folder_status(host)
    assert status.as_json() == {
        "folder": str(host), "machine": "alpha", "state": "finished", "share": 5, "done": 3,
        "ok": 1, "failed": {"error": 1, "crashed": 1, "timeout": 0}, "remaining": 2,
        "digest": "0001 0203 0405 0607", "live": None, "damage": None,
        "rate": None, "eta_seconds": None, "finish": None, "paused": None,
    }  # fmt: skip
    assert status.line() == (
        f"alpha ({host}): finished, 3/5 done, 1 ok, 2 failed (1 error, 1 crashed),"
        " 2 remaining, digest 0001 0203 0405 0607"
    )


def test_an_open_last_frame_is_live_while_running_and_damage_after(tmp_path: Path) -> None:
    host = make_host(tmp_path / "a", "alpha", ok_rows([0, 1, 2]), state="running", ended=None)
    results = host / "results.csv.zst"
    results.write_bytes(results.read_bytes()[:-4])
    live = folder_status(host)
    assert (live.done, live.remaining, live.damage) == (2, 1, None)
    assert live.live is not None and live.live.startswith("cut off mid-frame: ")
    assert live.line().endswith(f"; live: {live.live}")
    write_manifest(host / "manifest.json", {**read_manifest(host), "state": "interrupted"})
    cut = folder_status(host)
    assert (cut.live, cut.damage) == (None, live.live)


def test_rows_of_jobs_that_the_plan_gives_another_machine_do_not_count(tmp_path: Path) -> None:
    owners = ["alpha", "beta", "alpha", "beta"]
    host = make_host(tmp_path / "a", "alpha", ok_rows([0, 1, 2]), total=4, owners=owners)
    write_manifest(host / "manifest.json", {**read_manifest(host), "share": 2})
    status = folder_status(host)
    assert (status.share, status.done, status.ok, status.remaining) == (2, 2, 2, 0)


def test_a_folder_before_its_first_row_has_everything_remaining(tmp_path: Path) -> None:
    host = make_host(tmp_path / "a", "alpha", None, state="running", ended=None)
    write_manifest(host / "manifest.json", {**read_manifest(host), "share": 4})
    status = folder_status(host)
    assert (status.done, status.ok, status.remaining, status.live) == (0, 0, 4, None)


def test_a_manifest_without_a_field_is_named(tmp_path: Path) -> None:
    host = make_host(tmp_path / "a", "alpha", ok_rows([0]))
    write_manifest(host / "manifest.json", {**read_manifest(host), "total": "six"})
    with pytest.raises(CorruptFileError) as caught:
        read_host(host)
    assert str(caught.value) == (
        f"{host / 'manifest.json'} has no valid 'total'; restore the manifest.json that `run`"
        " wrote there, or rerun `run` on that machine to rewrite it"
    )


def test_the_status_command_prints_a_line_per_folder_or_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = make_host(tmp_path / "a", "alpha", ok_rows([0, 1]))
    second = make_host(tmp_path / "b", "beta", ok_rows([2]))
    assert run_cli(["status", str(first), str(second)], Program()) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"alpha ({first}): finished, 2/2 done, 2 ok, 0 failed, 0 remaining,"
        " digest 0001 0203 0405 0607",
        f"beta ({second}): finished, 1/1 done, 1 ok, 0 failed, 0 remaining,"
        " digest 0001 0203 0405 0607",
    ]
    assert run_cli(["status", str(second), "--json"], Program()) == 0
    assert json.loads(capsys.readouterr().out)[0]["done"] == 1


def test_status_reads_a_folder_that_a_run_is_still_writing(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "machines.json").write_text('{"alpha": [1.0, 1]}')
    (tmp_path / "configs" / "splitter.ini").write_text("[job]\nsleep = 0.1\n")
    environment = {**os.environ, "CAMPAIGN_SIZE": "200"}
    argv = [sys.executable, str(ENTRY), "run", "--all", "--yes", "--configs", "configs"]
    process = subprocess.Popen(
        [*argv, "--workers", "1", "--out", "out"], cwd=tmp_path, env=environment,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    folder = tmp_path / "out" / "all"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if (folder / "manifest.json").exists() and folder_status(folder).done >= 2:
                break
            time.sleep(0.1)
        done = run_module(["status", "out/all", "--json"], cwd=tmp_path)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert done.returncode == 0, done.stderr
    [status] = json.loads(done.stdout)
    assert status["state"] == "running"
    assert status["share"] == 200
    assert 2 <= status["done"] < 200
    assert status["remaining"] == 200 - status["done"]
    assert status["damage"] is None


def test_a_manifest_total_beyond_any_campaign_is_named_instead_of_allocated(
    tmp_path: Path,
) -> None:
    host = make_host(tmp_path / "a", "alpha", ok_rows([0]))
    write_manifest(host / "manifest.json", {**read_manifest(host), "total": 10**13})
    with pytest.raises(CorruptFileError, match=re.escape("has no valid 'total'; restore")):
        folder_status(host)


def test_a_repeated_job_whose_start_time_is_not_a_number_is_named(tmp_path: Path) -> None:
    host = make_host(tmp_path / "a", "alpha", ok_rows([0, 1]))
    results = host / "results.csv.zst"
    last = list(ResultsReader(results))[-1]
    with FrameWriter(results) as frames:
        frames.write_frame((",".join([*last[:3], "abc", *last[4:]]) + "\n").encode())
    with pytest.raises(CorruptFileError) as caught:
        folder_status(host)
    assert str(caught.value) == (
        f"{results} has a row of job {last[0]} whose start_time 'abc' is not a number; the file"
        " was edited or damaged, so restore the one splitter wrote or move it aside"
    )


CAPACITY = {"busy_seconds": 8.0, "jobs_done": 4, "wall_seconds": 4.0}


def test_a_running_host_shows_its_eta_from_the_rate_in_its_manifest(tmp_path: Path) -> None:
    host = make_host(tmp_path / "a", "alpha", ok_rows([0, 1]), state="running", ended=None)
    manifest = {**read_manifest(host), **CAPACITY, "share": 6, "rate_jobs_per_s": 0.5}
    write_manifest(host / "manifest.json", manifest)
    before = time.time()
    status = folder_status(host)
    assert (status.rate, status.eta_seconds) == (0.5, 8.0)
    # finish is kept to the millisecond.
    assert status.finish is not None
    assert before + 7.999 <= status.finish <= time.time() + 8.001
    assert status.line().endswith("; about 8s left at 0.5 jobs/s")


def test_status_on_several_hosts_says_which_finishes_last_and_by_how_much(
    tmp_path: Path,
) -> None:
    done = make_host(tmp_path / "a", "alpha", ok_rows([0, 1, 2]))
    write_manifest(
        done / "manifest.json",
        {**read_manifest(done), **CAPACITY, "share": 3, "updated": time.time() - 60},
    )
    slow = make_host(tmp_path / "b", "beta", ok_rows([3]), state="running", ended=None)
    manifest = {**read_manifest(slow), **CAPACITY, "share": 3, "rate_jobs_per_s": 0.02}
    write_manifest(slow / "manifest.json", manifest)
    table = status_table([folder_status(done), folder_status(slow)])
    assert table.splitlines()[-1] == "last to finish: beta finishes about 2m40s after alpha"


def test_status_names_no_last_host_when_none_is_running(tmp_path: Path) -> None:
    a = make_host(tmp_path / "a", "alpha", ok_rows([0, 1, 2]))
    b = make_host(tmp_path / "b", "beta", ok_rows([3, 4, 5]))
    assert len(status_table([folder_status(a), folder_status(b)]).splitlines()) == 2


def _dead_run(folder: Path, host: str) -> Path:
    """A folder whose manifest says running, whose run.lock a dead run of ``host`` signed."""
    found = make_host(folder, "alpha", ok_rows([0, 1]), state="running", ended=None)
    write_manifest(found / "manifest.json", {**read_manifest(found), **CAPACITY, "share": 4,
                                              "rate_jobs_per_s": 0.5})  # fmt: skip
    (found / LOCK_NAME).write_text(f"pid 4242 on host {host}\n")
    return found


def test_a_running_manifest_whose_lock_is_free_is_a_stopped_run(tmp_path: Path) -> None:
    host = _dead_run(tmp_path / "a", socket.gethostname())
    status = folder_status(host)
    assert (status.state, status.eta_seconds, status.finish, status.live) == (
        "stopped", None, None, None,
    )  # fmt: skip
    assert status.line() == (
        f"alpha ({host}): stopped (not running); run again to resume, 2/4 done, 2 ok, 0 failed,"
        " 2 remaining, digest 0001 0203 0405 0607"
    )


def test_a_running_manifest_whose_lock_is_held_is_a_live_run(tmp_path: Path) -> None:
    host = _dead_run(tmp_path / "a", socket.gethostname())
    with FolderLock(host):
        status = folder_status(host)
    assert (status.state, status.eta_seconds) == ("running", 4.0)


def test_a_copy_of_another_hosts_running_folder_is_taken_at_its_word(tmp_path: Path) -> None:
    host = _dead_run(tmp_path / "a", "elsewhere-" + socket.gethostname())
    assert folder_status(host).state == "running"


def test_a_paused_run_says_since_when_and_why(tmp_path: Path) -> None:
    host = _dead_run(tmp_path / "a", socket.gethostname())
    since = time.mktime((2026, 11, 20, 14, 3, 0, 0, 0, -1))
    paused = {"since": since, "reason": "by hand", "by_hand": True, "in_place": True}
    write_manifest(host / "manifest.json", {**read_manifest(host), "owner": {"paused": paused}})
    with FolderLock(host):
        status = folder_status(host)
    assert status.paused == {"since": since, "reason": "by hand"}
    assert status.line() == (
        f"alpha ({host}): running, paused since 14:03 (by hand), 2/4 done, 2 ok, 0 failed,"
        " 2 remaining, digest 0001 0203 0405 0607; about 4s left at 0.5 jobs/s once it continues"
    )


def test_status_lists_the_machines_of_the_plan_that_no_folder_given_is_of(
    tmp_path: Path,
) -> None:
    owners = ["alpha", "alpha", "beta", "gamma", "gamma", "gamma"]
    alpha = make_host(tmp_path / "a", "alpha", ok_rows(range(2)), owners=owners)
    statuses = [folder_status(alpha)]
    assert unseen_machines([alpha], statuses) == [
        "beta: no folder given, 1 jobs",
        "gamma: no folder given, 3 jobs",
    ]
    assert status_table(statuses, unseen_machines([alpha], statuses)).splitlines()[1:] == [
        "beta: no folder given, 1 jobs",
        "gamma: no folder given, 3 jobs",
    ]
