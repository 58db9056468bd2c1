"""End-to-end: the real CLI runs shares in subprocesses, as hosts would."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import zstandard

from processes import alive, wait_for
from splitter.campaign.config import config_content, load_config
from splitter.campaign.digest import config_digest, group_digest
from splitter.store.results import ResultsReader

ENTRY = Path(__file__).parent / "entries" / "campaign_main.py"
MACHINES = {"alpha": [1.0, 2], "beta": [2.0, 1], "gamma": [0.5, 2]}


def write_campaign(tmp_path: Path, job: str = "", run: str = "", logging: str = "") -> Path:
    """Configs for campaign_main.py: [job], [run] and [logging] lines as given."""
    configs = tmp_path / "configs"
    configs.mkdir(exist_ok=True)
    (configs / "machines.json").write_text(json.dumps(MACHINES))
    text = f"[job]\n{job}\n[run]\n{run}\n[logging]\n{logging}\n"
    (configs / "splitter.ini").write_text(text)
    return configs


def run(tmp_path: Path, *args: str, size: int = 24, env: dict[str, str] | None = None):
    environment = {k: v for k, v in os.environ.items() if k != "SPLITTER_MACHINE"}
    environment.update({"CAMPAIGN_SIZE": str(size), **(env or {})})
    return subprocess.run(
        [sys.executable, str(ENTRY), "run", "--yes", "--configs", "configs", *args],
        cwd=tmp_path, env=environment, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def rows(folder: Path) -> list[dict[str, str]]:
    reader = ResultsReader(folder / "results.csv.zst")
    return [dict(zip(reader.header, row, strict=True)) for row in reader]


def statuses(folder: Path) -> dict[int, str]:
    return {int(row["job_id"]): row["status"] for row in rows(folder)}


def log_text(folder: Path) -> str:
    with (folder / "log.zst").open("rb") as raw:
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        return reader.read().decode()


def manifest(folder: Path) -> dict[str, object]:
    return json.loads((folder / "manifest.json").read_text())


def test_the_shares_of_all_machines_cover_the_pool_exactly_once(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    seen: Counter[int] = Counter()
    for machine in MACHINES:
        result = run(tmp_path, "--machine", machine, "--out", f"host-{machine}")
        assert result.returncode == 0, result.stderr
        seen.update(statuses(tmp_path / f"host-{machine}" / machine).keys())
    assert seen == Counter(range(24))


def test_a_job_gets_the_same_values_whichever_machine_and_worker_count_ran_it(
    tmp_path: Path,
) -> None:
    write_campaign(tmp_path)
    assert run(tmp_path, "--all", "--workers", "1", "--out", "single").returncode == 0
    for machine in ("alpha", "beta", "gamma"):
        assert run(tmp_path, "--machine", machine, "--workers", "2").returncode == 0
    single = {row["job_id"]: row["draw"] for row in rows(tmp_path / "single" / "all")}
    split = {
        row["job_id"]: row["draw"]
        for machine in MACHINES
        for row in rows(tmp_path / "results" / machine)
    }
    assert split == single
    assert len(set(single.values())) == 24


def test_failures_are_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    write_campaign(
        tmp_path, job="fail = 3\ncrash = 5\nkill = 7\nhang = 11", run="job_timeout = 1.5"
    )
    result = run(tmp_path, "--all")
    assert result.returncode == 1
    recorded = statuses(tmp_path / "results" / "all")
    assert recorded == {
        **dict.fromkeys(range(24), "ok"), 3: "error", 5: "crashed", 7: "crashed", 11: "timeout",
    }  # fmt: skip
    errors = {int(row["job_id"]): row["error"] for row in rows(tmp_path / "results" / "all")}
    assert errors[3] == "ValueError: job 3 refuses second line"
    assert errors[5].startswith("worker process died (exit code 7")
    assert errors[7].startswith("worker process died (signal SIGKILL")
    assert errors[11] == "job ran longer than job_timeout = 1.5 s; its worker was stopped"
    assert "20/24 ok, 1 error, 2 crashed, 1 timeout, 0 remaining" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_log_holds_the_traceback_of_a_failed_job_and_every_process(tmp_path: Path) -> None:
    write_campaign(tmp_path, job="fail = 3")
    run(tmp_path, "--machine", "alpha", "--all")
    text = log_text(tmp_path / "results" / "alpha")
    assert "  Traceback (most recent call last):" in text
    assert "  ValueError: job 3 refuses" in text
    assert any(f" alpha worker-{n} INFO job 0 starts" in text for n in (1, 2))
    assert " alpha MainProcess INFO starting alpha: share 24 of 24 jobs" in text


def test_per_job_logs_hold_what_each_job_logged(tmp_path: Path) -> None:
    write_campaign(tmp_path, logging="per_job = true")
    run(tmp_path, "--all", size=4)
    folder = tmp_path / "results" / "all" / "jobs"
    assert sorted(p.name for p in folder.iterdir()) == [f"{i}.log.zst" for i in range(4)]
    text = zstandard.ZstdDecompressor().decompress((folder / "2.log.zst").read_bytes()).decode()
    assert text.endswith("INFO job 2 starts\n")


def test_per_job_logs_land_in_the_folder_even_when_jobs_change_directory(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    write_campaign(tmp_path, job=f"chdir = {tmp_path / 'elsewhere'}", logging="per_job = true")
    result = run(tmp_path, "--all", size=4)
    assert result.returncode == 0, result.stderr
    assert statuses(tmp_path / "results" / "all") == dict.fromkeys(range(4), "ok")
    folder = tmp_path / "results" / "all" / "jobs"
    assert sorted(p.name for p in folder.iterdir()) == [f"{i}.log.zst" for i in range(4)]
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_a_rerun_skips_what_is_recorded_and_retry_failed_reruns_failures(tmp_path: Path) -> None:
    write_campaign(tmp_path, job=f"marker_dir = {tmp_path / 'markers'}")
    (tmp_path / "markers").mkdir()
    assert run(tmp_path, "--all", env={"CAMPAIGN_FLAKY": "2,9"}).returncode == 1
    again = run(tmp_path, "--all")
    assert again.returncode == 1
    assert "ran 0 jobs" in again.stderr and "skipped 24 recorded earlier" in again.stderr
    retried = run(tmp_path, "--all", "--retry-failed")
    assert retried.returncode == 0, retried.stderr
    assert "24/24 ok" in retried.stderr
    runs = Counter(int(p.name.split(".")[0]) for p in (tmp_path / "markers").iterdir())
    assert runs == Counter({**dict.fromkeys(range(24), 1), 2: 2, 9: 2})


def test_kill_9_of_the_whole_run_then_resume_never_reruns_a_job_recorded_ok(
    tmp_path: Path,
) -> None:
    write_campaign(tmp_path, job=f"sleep = 0.1\nmarker_dir = {tmp_path / 'markers'}")
    (tmp_path / "markers").mkdir()
    environment = {**os.environ, "CAMPAIGN_SIZE": "60"}
    process = subprocess.Popen(
        [sys.executable, str(ENTRY), "run", "--all", "--yes", "--configs", "configs"],
        cwd=tmp_path, env=environment, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    results = tmp_path / "results" / "all" / "results.csv.zst"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_ok_ids(results)) < 10:
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    ok_before = _ok_ids(results)
    assert 10 <= len(ok_before) < 60

    resumed = run(tmp_path, "--all", size=60)
    assert resumed.returncode == 0, resumed.stderr
    runs = Counter(int(p.name.split(".")[0]) for p in (tmp_path / "markers").iterdir())
    assert all(runs[job_id] == 1 for job_id in ok_before)
    assert set(statuses(tmp_path / "results" / "all")) == set(range(60))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")
def test_kill_9_of_the_parent_alone_ends_its_workers_in_the_middle_of_their_jobs(
    tmp_path: Path,
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    write_campaign(tmp_path, job=f"sleep = 60\nmarker_dir = {markers}")
    process = subprocess.Popen(
        [sys.executable, str(ENTRY), "run", "--all", "--yes", "--configs", "configs",
         "--workers", "2"],
        cwd=tmp_path, env={**os.environ, "CAMPAIGN_SIZE": "4"}, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(lambda: len(list(markers.iterdir())) == 2)
        workers = [int(marker.name.split(".")[1]) for marker in markers.iterdir()]
        process.kill()
        process.wait()
        # Long before their 60 s jobs end.
        wait_for(lambda: not any(map(alive, workers)), 20)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _ok_ids(results: Path) -> set[int]:
    if not results.exists() or results.stat().st_size == 0:
        return set()
    return {int(row[0]) for row in ResultsReader(results) if row[2] == "ok"}


def test_a_folder_of_another_splitter_ini_is_refused_naming_it_and_left_untouched(
    tmp_path: Path,
) -> None:
    write_campaign(tmp_path, job="steps = 1")
    assert run(tmp_path, "--machine", "alpha").returncode == 0
    folder = tmp_path / "results" / "alpha"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    configs = write_campaign(tmp_path, job="steps = 2")
    refused = run(tmp_path, "--machine", "alpha")
    assert refused.returncode == 3
    earlier = group_digest(bytes.fromhex(str(manifest(folder)["config_digest"])))
    now = group_digest(config_digest(config_content(load_config(configs / "splitter.ini"))))
    assert last_error_line(refused) == (
        f"campaign_main.py: error: results/alpha holds a run of another splitter.ini (config"
        f" digest {earlier}, this one's is {now}), so its jobs' seeds differ and none of its"
        " results hold here; run with the splitter.ini it ran with, pass --fresh to move it"
        " aside and start anew, or another --out"
    )
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_fresh_moves_the_earlier_run_aside_and_starts_anew(tmp_path: Path) -> None:
    write_campaign(tmp_path, job="steps = 1")
    assert run(tmp_path, "--machine", "alpha").returncode == 0
    write_campaign(tmp_path, job="steps = 2")
    assert run(tmp_path, "--machine", "alpha", "--fresh").returncode == 0
    siblings = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert siblings[0] == "alpha" and siblings[1].startswith("alpha.previous-")
    old = manifest(tmp_path / "results" / siblings[1])
    assert old["digest"] != manifest(tmp_path / "results" / "alpha")["digest"]


def test_ctrl_c_finishes_running_jobs_records_them_and_exits_130(tmp_path: Path) -> None:
    write_campaign(tmp_path, job="sleep = 0.5")
    process = subprocess.Popen(
        [sys.executable, str(ENTRY), "run", "--all", "--yes", "--configs", "configs"],
        cwd=tmp_path, env={**os.environ, "CAMPAIGN_SIZE": "40"}, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    results = tmp_path / "results" / "all" / "results.csv.zst"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_ok_ids(results)) < 2:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "letting the running jobs finish" in stderr
    done = statuses(tmp_path / "results" / "all")
    assert set(done.values()) == {"ok"} and 2 <= len(done) < 40
    assert manifest(tmp_path / "results" / "all")["state"] == "interrupted"
    resumed = run(tmp_path, "--all", size=40)
    assert resumed.returncode == 0
    assert f"skipped {len(done)} recorded earlier" in resumed.stderr


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_the_prompt_on_a_terminal_accepts_a_number_and_asks_to_confirm(tmp_path: Path) -> None:
    import pty

    write_campaign(tmp_path)
    pid, fd = pty.fork()
    if pid == 0:  # The child: the run on a terminal.
        os.chdir(tmp_path)
        os.environ["CAMPAIGN_SIZE"] = "6"
        os.environ.pop("SPLITTER_MACHINE", None)
        os.execv(sys.executable, [sys.executable, str(ENTRY), "--configs", "configs"])
    screen = _answer(fd, [("Number or name", "9\n"), ("neither a number", "beta\n"),
                          ("[y/N]", "y\n")])  # fmt: skip
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, screen
    assert "  2  beta  (perf 2 x 1 cores)" in screen
    assert "machine beta:" in screen
    assert (tmp_path / "results" / "beta" / "results.csv.zst").exists()


def _answer(fd: int, script: list[tuple[str, str]]) -> str:
    """Read the terminal until each expected text shows, then type its answer."""
    screen = ""
    for expected, answer in [*script, ("", "")]:
        deadline = time.monotonic() + 30
        while expected not in screen or (not expected and time.monotonic() < deadline):
            try:
                chunk = os.read(fd, 4096).decode(errors="replace")
            except OSError:
                return screen  # The child closed the terminal: it has finished.
            if not chunk:
                return screen
            screen += chunk
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {expected!r} in:\n{screen}")
        if answer:
            os.write(fd, answer.encode())
    return screen


def test_run_jobs_runs_the_whole_pool_as_a_library_call(tmp_path: Path, monkeypatch) -> None:
    import entries.campaign_main as campaign
    import splitter

    write_campaign(tmp_path)
    monkeypatch.chdir(tmp_path)
    summary = splitter.run_jobs(campaign.job, range(5), out=tmp_path / "lib", workers=2)
    assert (summary.ok, summary.share, summary.exit_code) == (5, 5, 0)
    assert sorted(statuses(tmp_path / "lib" / "all")) == [0, 1, 2, 3, 4]


def test_a_run_killed_before_its_first_flush_resumes_from_nothing(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    assert run(tmp_path, "--machine", "beta").returncode == 0
    (tmp_path / "results" / "beta" / "results.csv.zst").unlink()
    (tmp_path / "results" / "beta" / "log.zst").unlink()
    again = run(tmp_path, "--machine", "beta")
    assert again.returncode == 0, again.stderr
    assert "skipped 0 recorded earlier" in again.stderr
    assert set(statuses(tmp_path / "results" / "beta").values()) == {"ok"}


def last_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stdout + result.stderr
    return result.stderr.splitlines()[-1]


def test_out_under_a_file_exits_2_naming_the_path(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    (tmp_path / "afile").write_text("mine\n")
    result = run(tmp_path, "--all", "--out", "afile/results")
    assert result.returncode == 2
    assert last_error_line(result) == (
        "campaign_main.py: error: cannot use afile/results/all (Not a directory); a file "
        "stands where a folder is needed; pass another --out or move it aside"
    )
    assert (tmp_path / "afile").read_text() == "mine\n"


def _file_size_limit(limit: int) -> None:
    """Runs in the child before exec: writes past `limit` bytes fail with EFBIG."""
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs POSIX file size limits")
def test_a_full_disk_mid_run_exits_2_marks_the_run_interrupted_and_resume_completes(
    tmp_path: Path,
) -> None:
    write_campaign(
        tmp_path, job="sleep = 0.001", run="flush_interval = 0.1", logging="level = WARNING"
    )
    environment = {k: v for k, v in os.environ.items() if k != "SPLITTER_MACHINE"}
    # The limit lets plan.zst (about 52 kB for these 3,000 jobs) be written whole, and
    # stops the results (about 134 kB) part of the way through.
    full = subprocess.run(
        [sys.executable, str(ENTRY), "run", "--yes", "--configs", "configs", "--all"],
        cwd=tmp_path, env={**environment, "CAMPAIGN_SIZE": "3000"}, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120, preexec_fn=lambda: _file_size_limit(80_000),
    )  # fmt: skip
    assert full.returncode == 2
    assert last_error_line(full) == (
        "campaign_main.py: error: cannot use results/all/results.csv.zst (File too large); the "
        "file is over this system's file size limit; raise it (ulimit -f) or pass another --out"
    )
    folder = tmp_path / "results" / "all"
    assert manifest(folder)["state"] == "interrupted"
    recorded = len(statuses(folder))
    assert 0 < recorded < 3000
    resumed = run(tmp_path, "--all", size=3000)
    assert resumed.returncode == 0, resumed.stderr
    assert statuses(folder) == dict.fromkeys(range(3000), "ok")
    assert manifest(folder)["state"] == "finished"
