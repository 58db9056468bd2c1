"""End-to-end: `splitter run --tasks FILE` runs shell commands with every guarantee of run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_module, write_configs
from processes import alive_in_group, wait_for
from splitter.run.injection import job_seed64
from splitter.store.results import ResultsReader

MACHINES = {"alpha": [1.0, 2], "beta": [2.0, 1], "gamma": [0.5, 2]}
CONFIG = "[run]\nnice = 0\n"
ENV_LINE = (
    'echo "$SPLITTER_JOB_ID $SPLITTER_SEED $SPLITTER_MACHINE $SPLITTER_WORKER $SPLITTER_OUT'
    ' $SPLITTER_JOB_KEY" > "$SPLITTER_OUT/env-$SPLITTER_JOB_ID.txt"'
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="shell tasks are POSIX")


def campaign(tmp_path: Path, tasks: str, config: str = CONFIG) -> Path:
    write_configs(tmp_path / "configs", MACHINES, config)
    (tmp_path / "tasks.txt").write_text(tasks, encoding="utf-8")
    return tmp_path


def run_tasks(tmp_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run_module(["run", "--tasks", "tasks.txt", "--yes", *args], tmp_path, timeout=timeout)


def rows(folder: Path) -> dict[int, dict[str, str]]:
    reader = ResultsReader(folder / "results.csv.zst")
    found = [dict(zip(reader.header, row, strict=True)) for row in reader]
    return {int(row["job_id"]): row for row in found}


def test_three_hosts_run_their_shares_with_the_environment_and_merge_completely(
    tmp_path: Path,
) -> None:
    work = campaign(tmp_path, "# one line per job\n" + f"{ENV_LINE}\n\n" * 9)
    for machine in MACHINES:
        ran = run_tasks(work, "--machine", machine)
        assert ran.returncode == 0, ran.stderr
    folders = [f"results/{machine}" for machine in MACHINES]
    merged = run_module(["merge", *folders, "--out", "merged"], work)

    assert merged.returncode == 0, merged.stderr
    report = json.loads((work / "merged" / "report.json").read_text())
    assert (report["expected"], report["ok"], report["missing"]) == (9, 9, [])
    seed = bytes.fromhex(
        json.loads((work / "results/alpha/manifest.json").read_text())["campaign_seed"]
    )
    seen = {}
    for machine in MACHINES:
        folder = (work / "results" / machine).resolve()
        share = rows(folder)
        for job_id, row in share.items():
            assert (row["status"], row["exit_code"], row["command"]) == ("ok", "0", ENV_LINE)
            text = (folder / f"env-{job_id}.txt").read_text().split()
            key = bytes.fromhex(row["job_key"])
            assert text[:3] == [str(job_id), str(job_seed64(seed, key)), machine]
            assert int(text[3]) in range(MACHINES[machine][1])
            assert text[4:] == [str(folder), row["job_key"]]
            seen[job_id] = machine, row["job_key"]
    assert sorted(seen) == list(range(9))
    # Nine equal lines are nine jobs: each occurrence has its own key.
    assert len({key for _, key in seen.values()}) == 9


def test_the_seed_of_a_task_is_the_same_whichever_host_runs_it(tmp_path: Path) -> None:
    work = campaign(tmp_path, f"{ENV_LINE}\n" * 6)
    assert run_tasks(work, "--machine", "beta").returncode == 0
    assert run_tasks(work, "--all", "--workers", "1").returncode == 0
    for path in (work / "results" / "beta").glob("env-*.txt"):
        alone = (work / "results" / "all" / path.name).read_text().split()
        assert alone[:2] == path.read_text().split()[:2]


def test_exit_codes_and_signals_become_statuses_with_the_command_and_the_last_stderr_line(
    tmp_path: Path,
) -> None:
    tasks = "true\necho first >&2; echo 'no such file' >&2; exit 3\nkill -TERM $$\nexit 0\n"
    work = campaign(tmp_path, tasks)
    ran = run_tasks(work, "--all")

    assert ran.returncode == 1
    found = rows(work / "results" / "all")
    assert [(r["status"], r["exit_code"], r["error"]) for r in map(found.get, range(4))] == [
        ("ok", "0", ""),
        ("error", "3", "exit code 3: no such file"),
        ("crashed", "-15", "killed by signal SIGTERM"),
        ("ok", "0", ""),
    ]
    assert found[1]["command"] == "echo first >&2; echo 'no such file' >&2; exit 3"


def test_a_rerun_skips_what_is_recorded_and_retry_failed_reruns_only_failures(
    tmp_path: Path,
) -> None:
    tasks = "echo ran >> ok.count\necho ran >> bad.count; exit 1\n"
    work = campaign(tmp_path, tasks)
    assert run_tasks(work, "--all").returncode == 1
    assert run_tasks(work, "--all").returncode == 1
    assert run_tasks(work, "--all", "--retry-failed").returncode == 1
    assert (work / "ok.count").read_text() == "ran\n"
    assert (work / "bad.count").read_text() == "ran\nran\n"


def test_task_output_goes_to_the_log_by_job_and_keep_output_keeps_it_whole(
    tmp_path: Path,
) -> None:
    import zstandard

    tasks = "echo hello; echo warn >&2\nseq 1 100000\n"
    work = campaign(tmp_path, tasks, CONFIG + "[tasks]\nkeep_output = true\n")
    ran = run_tasks(work, "--all")

    assert ran.returncode == 0, ran.stderr
    folder = work / "results" / "all"
    with (folder / "log.zst").open("rb") as raw:
        log = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True).read()
    text = log.decode()
    assert "INFO job 0 out: hello\n" in text and "INFO job 0 err: warn\n" in text
    assert "INFO job 1 out: 1\n" in text and "INFO job 1 out: 100000\n" in text
    assert (
        "bytes cut here (the first and last 65536 are logged; the whole is in its keep file)"
        in text
    )
    assert "job 1 out: 50000\n" not in text
    kept = (
        zstandard.ZstdDecompressor()
        .decompressobj()
        .decompress((folder / "tasks" / "1.out.zst").read_bytes())
    )
    assert kept == "".join(f"{i}\n" for i in range(1, 100_001)).encode()
    assert sorted(p.name for p in (folder / "tasks").iterdir()) == [
        "0.err.zst", "0.out.zst", "1.out.zst",
    ]  # fmt: skip


def test_a_timeout_kills_the_whole_process_group_and_records_timeout(tmp_path: Path) -> None:
    tasks = "echo $$ > group.txt; sleep 60 & sleep 60\ntrue\n"
    work = campaign(tmp_path, tasks, "[run]\nnice = 0\njob_timeout = 1\n")
    ran = run_tasks(work, "--all", "--workers", "1")

    assert ran.returncode == 1
    found = rows(work / "results" / "all")
    assert (found[0]["status"], found[1]["status"]) == ("timeout", "ok")
    assert alive_in_group(int((work / "group.txt").read_text())) == []


def test_what_a_task_leaves_running_in_the_background_ends_with_it(tmp_path: Path) -> None:
    work = campaign(tmp_path, "echo $$ > group.txt; sleep 60 &\n")
    ran = run_tasks(work, "--all")

    assert ran.returncode == 0, ran.stderr
    assert alive_in_group(int((work / "group.txt").read_text())) == []


def test_sigterm_stops_the_tasks_leaves_nothing_running_and_a_resume_finishes(
    tmp_path: Path,
) -> None:
    line = 'if [ -e go ]; then true; else echo $$ > "g$SPLITTER_JOB_ID"; sleep 60; fi'
    work = campaign(tmp_path, f"{line}\n" * 2)
    environment = {k: v for k, v in os.environ.items() if k != "SPLITTER_MACHINE"}
    argv = [sys.executable, "-m", "splitter", "run", "--tasks", "tasks.txt", "--yes", "--all"]
    process = subprocess.Popen(
        argv, cwd=work, env=environment, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: (work / "g0").exists() and (work / "g1").exists())
        time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 130
    finally:
        process.kill()
    groups = [int((work / f"g{i}").read_text()) for i in range(2)]
    assert [alive_in_group(group) for group in groups] == [[], []]
    assert rows(work / "results" / "all") == {}
    (work / "go").touch()
    assert run_tasks(work, "--all").returncode == 0
    assert sorted(rows(work / "results" / "all")) == [0, 1]


def test_different_task_files_have_different_digests(tmp_path: Path) -> None:
    work = campaign(tmp_path, "echo a\necho b\n")
    first = run_module(["digest", "--tasks", "tasks.txt"], work)
    (work / "tasks.txt").write_text("echo a\necho c\n")
    second = run_module(["digest", "--tasks", "tasks.txt"], work)
    (work / "tasks.txt").write_text("# now commented\necho a\n\necho c\n")
    third = run_module(["digest", "--tasks", "tasks.txt"], work)

    assert first.returncode == second.returncode == 0
    assert first.stdout != second.stdout
    assert second.stdout == third.stdout
    plan = run_module(["plan", "--tasks", "tasks.txt", "--json"], work)
    assert json.loads(plan.stdout)["total"] == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "does not exist"),
        (b"#DISBATCH BARRIER key\n", "line 1: BARRIER takes only CHECK"),
        (b"\x7fELF\x02\x01\x00\x00", "is not text"),
        (b"echo " + b"x" * 200_000 + b"\n", "bytes this system allows one command"),
    ],
)
def test_bad_task_files_exit_2_in_one_sentence_and_write_nothing(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    work = campaign(tmp_path, "")
    (work / "tasks.txt").unlink()
    if content is not None:
        (work / "tasks.txt").write_bytes(content)
    before = sorted(p.name for p in work.iterdir())
    ran = run_tasks(work, "--all")

    assert ran.returncode == 2
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("splitter: error: task file tasks.txt")
    assert expected in lines[0]
    assert sorted(p.name for p in work.iterdir()) == before


def test_calibrate_on_a_task_file_measures_and_records_nothing_in_the_results(
    tmp_path: Path,
) -> None:
    campaign(tmp_path, "sleep 0.02\n" * 40)
    done = run_module(
        ["calibrate", "--tasks", "tasks.txt", "--machine", "alpha", "--seconds", "1",
         "--workers", "1", "--update"],
        tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    saved = json.loads((tmp_path / "results" / "alpha" / "calibration.json").read_text())
    machines = json.loads((tmp_path / "configs" / "machines.json").read_text())
    assert machines["alpha"] == saved["entry"] and machines["alpha"][1] == 1
    assert 0 < machines["alpha"][0] < 60  # jobs/s of one worker on 20 ms tasks
    assert [p.name for p in (tmp_path / "results" / "alpha").iterdir()] == ["calibration.json"]
    assert list(machines) == list(MACHINES)
