"""End-to-end: the one-file binary from `make exe` runs every command where no Python is.

The binary is built once per session from tests/entries/frozen_main.py with
the test configs embedded, then copied into empty folders and run there with
an environment stripped of Python (only PATH=/usr/bin:/bin: no venv, no
PYTHONPATH), and compared with the same campaign run by Python.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zstandard

from processes import kill_leftovers, running, unique_sleep, wait_for
from splitter.frozen import MARKER

ROOT = Path(__file__).resolve().parent.parent
ENTRY = Path(__file__).parent / "entries" / "frozen_main.py"
BINARY = "frozen_main"  # make exe's default NAME: the entry's file stem
MACHINES = {"alpha": [1.0, 2], "beta": [2.0, 1], "gamma": [0.5, 2]}
CONFIG = "[logging]\nlevel = INFO\n[run]\nnice = 0\n[job]\nchunk = 64KiB\n"
BARE_ENV = {"PATH": "/usr/bin:/bin"}
COMPARED = ("status", "index", "label", "draw", "normal", "chunk")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the test runs POSIX binaries")


def write_configs(folder: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True)
    (folder / "machines.json").write_text(json.dumps(MACHINES), encoding="utf-8")
    (folder / "splitter.ini").write_text(CONFIG + extra, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make exe ENTRY=frozen_main.py CONFIGS=...` into a temp folder, once per session."""
    # CI installs the exe extra: a missing PyInstaller is a broken setup, not a skip.
    assert importlib.util.find_spec("PyInstaller") is not None, (
        "PyInstaller is not installed; pip install -e '.[exe]' (make setup does)"
    )
    work = tmp_path_factory.mktemp("exe")
    configs = write_configs(work / "configs")
    # -o: never (re)install the venv from a test; BIN: build with this interpreter.
    make = [
        "make", "-o", ".venv/.installed", "exe", f"ENTRY={ENTRY}", f"CONFIGS={configs}",
        f"EXE_DIST={work / 'dist'}", f"EXE_WORK={work / 'build'}",
        f"BIN={Path(sys.executable).parent}",
    ]  # fmt: skip
    built = subprocess.run(make, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    return work / "dist" / BINARY


@pytest.fixture(scope="module")
def python_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[int, tuple[str, ...]]]:
    """The same campaign run by Python, the whole pool on one host: (digest, job values)."""
    work = tmp_path_factory.mktemp("python")
    write_configs(work / "configs")
    run = [sys.executable, str(ENTRY), "run", "--all", "--yes", "--workers", "2", "--out", "ref"]
    assert subprocess.run(run, cwd=work, capture_output=True, timeout=120).returncode == 0
    digest = subprocess.run(
        [sys.executable, str(ENTRY), "digest", "--full"], cwd=work, capture_output=True, text=True
    )
    return digest.stdout.strip(), job_values(work / "ref" / "all" / "results.csv.zst")


def job_values(results: Path) -> dict[int, tuple[str, ...]]:
    """job_id -> (status, the job's own columns), from a host's or a merged results file."""
    with results.open("rb") as raw:
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        rows = list(csv.DictReader(io.TextIOWrapper(reader, encoding="utf-8", newline="")))
    return {int(row["job_id"]): tuple(row[column] for column in COMPARED) for row in rows}


def host_folder(root: Path, binary: Path, configs: bool = True) -> Path:
    """An empty folder holding a copy of the binary, and of the configs if asked."""
    root.mkdir()
    shutil.copy2(binary, root / binary.name)
    if configs:
        write_configs(root / "configs")
    return root


def bare(
    host: Path, *args: str, env: dict[str, str] | None = None, program: str = BINARY
) -> subprocess.CompletedProcess[str]:
    """Run the binary in ``host`` with nothing in the environment but PATH=/usr/bin:/bin."""
    return subprocess.run(
        [str(host / program), *args], cwd=host, env={**BARE_ENV, **(env or {})},
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_every_host_runs_its_share_frozen_and_the_merge_equals_the_python_run(
    binary: Path, python_run: tuple[str, dict[int, tuple[str, ...]]], tmp_path: Path
) -> None:
    digest, expected = python_run
    host = host_folder(tmp_path / "host", binary)
    assert bare(host, "digest", "--full").stdout.strip() == digest
    assert "configs (./configs)" in bare(host, "plan").stdout
    for machine in MACHINES:
        ran = bare(host, "run", "--machine", machine, "--yes", env={"MAIN_RUNS": machine})
        assert ran.returncode == 0, ran.stderr
        # Its workers never ran the entry's main block: the program ran once.
        assert len((host / machine).read_text().splitlines()) == 1

    folders = [f"results/{machine}" for machine in MACHINES]
    merged = bare(host, "merge", *folders, "--out", "merged")
    status = bare(host, "status", *folders, "--json")

    assert merged.returncode == 0, merged.stderr
    assert job_values(host / "merged" / "results.csv.zst") == expected
    report = json.loads((host / "merged" / "report.json").read_text())
    assert (report["expected"], report["ok"], report["missing"]) == (300, 300, [])
    assert report["digest"] == digest
    assert status.returncode == 0, status.stderr
    hosts = json.loads(status.stdout)
    assert [(host["machine"], host["state"]) for host in hosts] == [
        ("alpha", "finished"), ("beta", "finished"), ("gamma", "finished"),
    ]  # fmt: skip
    assert sum(host["ok"] for host in hosts) == 300


def test_with_no_configs_beside_it_the_binary_uses_its_embedded_ones(
    binary: Path, python_run: tuple[str, dict[int, tuple[str, ...]]], tmp_path: Path
) -> None:
    digest, expected = python_run
    host = host_folder(tmp_path / "bare-host", binary, configs=False)

    plan = bare(host, "plan")
    ran = bare(host, "run", "--machine", "beta", "--yes", "--workers", "2")
    init = bare(host, "init", "--configs", "fresh")

    assert plan.returncode == 0, plan.stderr
    assert "(embedded in the binary)" in plan.stdout
    assert bare(host, "digest", "--full").stdout.strip() == digest
    assert ran.returncode == 0, ran.stderr
    share = job_values(host / "results" / "beta" / "results.csv.zst")
    assert share and all(expected[job_id] == values for job_id, values in share.items())
    assert init.returncode == 0, init.stderr
    assert sorted(p.name for p in (host / "fresh").iterdir()) == ["machines.json", "splitter.ini"]
    assert sorted(p.name for p in host.iterdir()) == sorted([BINARY, "fresh", "results"])


def test_a_start_removes_the_unpack_folder_a_killed_binary_left_and_no_live_one(
    binary: Path, tmp_path: Path
) -> None:
    host = host_folder(tmp_path / "host", binary)
    write_configs(host / "slow", "sleep = 30\n")
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {"TMPDIR": str(temp)}
    run = [str(host / BINARY), "run", "--all", "--yes", "--workers", "1", "--configs", "slow"]
    bootloader = subprocess.Popen(
        run, cwd=host, env={**BARE_ENV, **env}, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    user: subprocess.Popen[bytes] | None = None
    try:
        left = wait_for_unpack_folder(temp, host / "results" / "all" / "manifest.json")
        # SIGKILL the bootloader alone: its program and worker die with it, and
        # the folder stays; a process of ours still works in it.
        bootloader.kill()
        bootloader.wait()
        wait_until_gone(bootloader.pid)
        user = subprocess.Popen(["sleep", "60"], cwd=left, start_new_session=True)
        age(left)
        assert bare(host, "digest", env=env).returncode == 0
        assert left.is_dir(), "a start removed a folder a live process uses"
        kill_group(user.pid)
        user.wait()
        age(left)
        assert bare(host, "digest", env=env).returncode == 0
        assert not left.exists(), "a start left the unpack folder of a killed binary"
        assert list(temp.glob("_MEI*")) == []
    finally:
        kill_group(bootloader.pid)
        if user is not None:
            kill_group(user.pid)


def test_kill_9_of_the_pid_the_shell_shows_stops_the_run_its_workers_and_their_tasks(
    generic_binary: Path, tmp_path: Path
) -> None:
    host = host_folder(tmp_path / "host", generic_binary)
    sleep = unique_sleep(100)
    (host / "tasks.txt").write_text(f"setsid sleep {sleep} & sleep {sleep}; true\n" * 2)
    run = [str(host / "splitter"), "run", "--tasks", "tasks.txt", "--all", "--yes"]
    # What `./splitter run ... &` then `kill -9 $!` does: $! is the bootloader.
    bootloader = subprocess.Popen(
        [*run, "--workers", "2"], cwd=host, env=BARE_ENV, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(lambda: len(running("sleep", sleep)) == 4, 60)
        bootloader.kill()
        bootloader.wait()
        wait_until_gone(bootloader.pid)
        wait_for(lambda: running("sleep", sleep) == [] and running(str(host / "splitter")) == [])
    finally:
        kill_leftovers([sleep], [bootloader.pid])


def wait_for_unpack_folder(temp: Path, manifest: Path) -> Path:
    """The running binary's unpack folder, once its run has begun (and its worker, soon after)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        folders = [p for p in temp.glob("_MEI*") if (p / MARKER).is_file()]
        if folders and manifest.exists():
            time.sleep(0.5)
            return folders[0]
        time.sleep(0.05)
    raise AssertionError(f"no unpack folder with {MARKER} appeared in {temp}")


def age(folder: Path) -> None:
    """Make the folder look an hour old, past the grace period for young folders."""
    hour_ago = time.time() - 3600
    os.utime(folder, (hour_ago, hour_ago))


def wait_until_gone(group: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not any(_in_group(pid, group) for pid in _pids()):
            return
        time.sleep(0.05)
    raise AssertionError(f"processes of group {group} outlived SIGKILL")


def kill_group(group: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _in_group(pid: int, group: int) -> bool:
    """Whether a live (not zombie) process is in the process group."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z" and int(fields[2]) == group


def test_the_binary_prints_a_slurm_script_that_runs_the_binary_itself(
    binary: Path, tmp_path: Path
) -> None:
    host = host_folder(tmp_path / "host", binary)
    printed = bare(host, "slurm-script", "--array", "2")
    assert printed.returncode == 0, printed.stderr
    digest = bare(host, "digest", "--full", "--slurm-array", "2").stdout.strip()
    assert f"exec {host / BINARY} run --slurm-array 2 \\\n    --expect-digest {digest} \\\n" in (
        printed.stdout
    )
    (host / "job.sh").write_text(printed.stdout)
    # What sbatch does for task 1 of the array, without Slurm and without Python.
    task = {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "2"}
    ran = subprocess.run(
        ["bash", "job.sh"], cwd=host, env={**BARE_ENV, **task}, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "machine task-1: 150 of 300 jobs" in ran.stderr


@pytest.fixture(scope="module")
def generic_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make exe` with no ENTRY: the console script frozen as dist/splitter."""
    work = tmp_path_factory.mktemp("generic")
    make = [
        "make", "-o", ".venv/.installed", "exe", f"EXE_DIST={work / 'dist'}",
        f"EXE_WORK={work / 'build'}", f"BIN={Path(sys.executable).parent}",
    ]  # fmt: skip
    built = subprocess.run(make, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    return work / "dist" / "splitter"


def test_the_generic_binary_runs_a_task_file_on_three_hosts_and_merges_them(
    generic_binary: Path, tmp_path: Path
) -> None:
    host = host_folder(tmp_path / "host", generic_binary)
    # sed: the tasks run the host's own programs, not libraries from the bundle.
    line = 'echo "$SPLITTER_JOB_ID $SPLITTER_MACHINE" | sed s/^/job-/'
    line += ' > "$SPLITTER_OUT/$SPLITTER_JOB_ID"'
    (host / "tasks.txt").write_text("# a sweep\n" + f"{line}\n" * 12, encoding="utf-8")

    def splitter(*args: str) -> subprocess.CompletedProcess[str]:
        return bare(host, *args, program="splitter")

    digest = splitter("digest", "--tasks", "tasks.txt")
    for machine in MACHINES:
        ran = splitter("run", "--tasks", "tasks.txt", "--machine", machine, "--expect-digest",
                       digest.stdout)  # fmt: skip
        assert ran.returncode == 0, ran.stderr
    merged = splitter("merge", *(f"results/{m}" for m in MACHINES), "--out", "merged")

    assert merged.returncode == 0, merged.stderr
    report = json.loads((host / "merged" / "report.json").read_text())
    assert (report["expected"], report["ok"], report["missing"]) == (12, 12, [])
    ran_ids = []
    for machine in MACHINES:
        for path in (host / "results" / machine).iterdir():
            if path.name.isdigit():
                assert path.read_text() == f"job-{path.name} {machine}\n"
                ran_ids.append(int(path.name))
    assert sorted(ran_ids) == list(range(12))


def test_the_binary_leaves_dask_out_and_says_where_dask_runs(binary: Path, tmp_path: Path) -> None:
    host = host_folder(tmp_path / "host", binary)
    ran = bare(host, "run", "--all", "--yes", "--dask", "local:1")
    assert ran.returncode == 2, ran.stderr
    assert "--dask needs the optional Dask support, which binaries leave out" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert not (host / "results").exists()


def test_the_binarys_help_marks_what_it_leaves_out(binary: Path, tmp_path: Path) -> None:
    host = host_folder(tmp_path / "host", binary)
    commands, run, merge = (
        " ".join(bare(host, *args, "--help").stdout.split()) for args in ((), ("run",), ("merge",))
    )
    assert "pictures of a merged campaign (not in this binary)" in commands
    assert "else $SPLITTER_DASK) (not in this binary)" in run
    assert "(needs splitter[parquet]) (not in this binary)" in merge
    parquet = bare(host, "merge", "nothing", "--out", "m", "--parquet")
    assert parquet.returncode == 2
    assert "merge --parquet needs pyarrow, which binaries leave out" in parquet.stderr


def test_the_generic_binary_leaves_matplotlib_out_and_says_where_reports_are_made(
    generic_binary: Path, tmp_path: Path
) -> None:
    host = host_folder(tmp_path / "host", generic_binary)
    (host / "tasks.txt").write_text("true\n" * 3, encoding="utf-8")

    def splitter(*args: str) -> subprocess.CompletedProcess[str]:
        return bare(host, *args, program="splitter")

    assert splitter("run", "--tasks", "tasks.txt", "--all", "--yes").returncode == 0
    assert splitter("merge", "results/all", "--out", "merged").returncode == 0
    report = splitter("report", "merged")
    assert report.returncode == 2, report.stderr
    assert "the report needs matplotlib, which binaries leave out" in report.stderr
    assert not (host / "merged" / "report.html").exists()
