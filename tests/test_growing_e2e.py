"""End-to-end: a campaign that grows and changes reruns only new or changed work (issue 16)."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from conftest import run_cli, run_module, write_configs
from splitter.merge.combine import merged_rows
from splitter.store.results import ResultsReader

ENTRY = Path(__file__).parent / "entries" / "campaign_main.py"
MACHINES = {"alpha": [1.0, 2], "beta": [1.5, 2], "gamma": [0.5, 2]}
CONFIG = "[run]\nnice = 0\n[job]\nmarker_dir = markers\n"


def campaign(tmp_path: Path) -> Path:
    write_configs(tmp_path / "configs", MACHINES, CONFIG)
    (tmp_path / "markers").mkdir()
    return tmp_path


def run_host(folder: Path, machine: str, size: int, *more: str) -> str:
    args = ["run", "--machine", machine, "--yes", "--out", "out", *more]
    done = run_cli(args, folder, {"CAMPAIGN_SIZE": str(size)}, entry=ENTRY)
    assert done.returncode == 0, done.stderr
    return done.stderr


def executed(folder: Path) -> list[int]:
    """The job items run since the last call (each run leaves a marker), then forgets them."""
    found = sorted(int(path.name.split(".")[0]) for path in (folder / "markers").iterdir())
    for path in (folder / "markers").iterdir():
        path.unlink()
    return found


def values(rows: list[list[str]], header: list[str]) -> dict[str, tuple[str, str, str]]:
    at = {name: header.index(name) for name in ("job_key", "index", "draw", "square")}
    return {
        row[at["job_key"]]: (row[at["index"]], row[at["draw"]], row[at["square"]]) for row in rows
    }


def test_a_grown_pool_reruns_only_new_and_moved_jobs_and_merges_like_one_run(
    tmp_path: Path,
) -> None:
    folder = campaign(tmp_path)
    for machine in MACHINES:
        run_host(folder, machine, 60)
    assert executed(folder) == list(range(60))

    plan = run_cli(["plan", "--since", "out/alpha", "--json"], folder, {"CAMPAIGN_SIZE": "66"},
                   entry=ENTRY)  # fmt: skip
    since = json.loads(plan.stdout)["since"]
    assert since["new"] == 6 and since["removed"] == 0
    ran: dict[str, int] = {}
    for machine in MACHINES:
        line = run_host(folder, machine, 66)
        assert "reusing" in line
        ran[machine] = len(executed(folder))
    gains = {m["machine"]: m["gains"] for m in since["machines"]}
    assert ran == gains
    assert sum(ran.values()) == since["new"] + since["moved"]

    merged = run_cli(["merge", "out/alpha", "out/beta", "out/gamma", "--out", "M"], folder,
                     {"CAMPAIGN_SIZE": "66"}, entry=ENTRY)  # fmt: skip
    assert merged.returncode == 0, merged.stderr
    whole = run_cli(["run", "--all", "--yes", "--out", "single"], folder,
                    {"CAMPAIGN_SIZE": "66"}, entry=ENTRY)  # fmt: skip
    assert whole.returncode == 0, whole.stderr
    header, *rows = merged_rows(folder / "M" / "results.csv.zst")
    assert [int(row[0]) for row in rows] == list(range(66))
    single = ResultsReader(folder / "single" / "all" / "results.csv.zst")
    single_rows = list(single)
    assert values(rows, header) == values(single_rows, list(single.header))


def test_the_seeds_of_jobs_kept_from_a_smaller_pool_do_not_change(tmp_path: Path) -> None:
    folder = campaign(tmp_path)
    run_cli(["run", "--all", "--yes", "--out", "small"], folder, {"CAMPAIGN_SIZE": "10"},
            entry=ENTRY)  # fmt: skip
    run_cli(["run", "--all", "--yes", "--out", "big"], folder, {"CAMPAIGN_SIZE": "30"},
            entry=ENTRY)  # fmt: skip
    small = ResultsReader(folder / "small" / "all" / "results.csv.zst")
    big = ResultsReader(folder / "big" / "all" / "results.csv.zst")
    small_values = values(list(small), list(small.header))
    big_values = values(list(big), list(big.header))
    assert {key: big_values[key] for key in small_values} == small_values


def test_another_splitter_ini_is_refused_naming_the_file_that_differs(tmp_path: Path) -> None:
    folder = campaign(tmp_path)
    run_host(folder, "alpha", 20)
    assert executed(folder)
    (folder / "configs" / "splitter.ini").write_text(CONFIG + "seed_note = replica\n")
    done = run_cli(["run", "--machine", "alpha", "--yes", "--out", "out"], folder,
                   {"CAMPAIGN_SIZE": "20"}, entry=ENTRY)  # fmt: skip
    assert done.returncode == 3
    assert "holds a run of another splitter.ini" in done.stderr
    assert executed(folder) == []


def test_reuse_runs_nothing_the_reused_folder_holds_and_marks_where_rows_came_from(
    tmp_path: Path,
) -> None:
    folder = campaign(tmp_path)
    run_cli(["run", "--all", "--yes", "--out", "earlier"], folder, {"CAMPAIGN_SIZE": "20"},
            entry=ENTRY)  # fmt: skip
    assert executed(folder) == list(range(20))
    done = run_cli(["run", "--all", "--yes", "--out", "later", "--reuse", "earlier/all"], folder,
                   {"CAMPAIGN_SIZE": "25"}, entry=ENTRY)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert executed(folder) == list(range(20, 25))
    assert "reused 20 results from earlier/all" in done.stderr
    reader = ResultsReader(folder / "later" / "all" / "results.csv.zst")
    origin = {row[0]: row[list(reader.header).index("origin")] for row in reader}
    assert sorted(job for job, where in origin.items() if where == "earlier/all") == sorted(
        str(job) for job in range(20)
    )


def test_reuse_of_another_splitter_ini_is_refused_before_anything_runs(tmp_path: Path) -> None:
    folder = campaign(tmp_path)
    other = tmp_path / "other"
    shutil.copytree(folder / "configs", other / "configs")
    (other / "markers").mkdir()
    (other / "configs" / "splitter.ini").write_text(CONFIG.replace("nice = 0", "nice = 1"))
    run_cli(["run", "--all", "--yes", "--out", "earlier"], other, {"CAMPAIGN_SIZE": "5"},
            entry=ENTRY)  # fmt: skip
    reused = str(other / "earlier" / "all")
    done = run_cli(["run", "--all", "--yes", "--out", "out", "--reuse", reused], folder,
                   {"CAMPAIGN_SIZE": "5"}, entry=ENTRY)  # fmt: skip
    assert done.returncode == 3
    assert "ran with another splitter.ini" in done.stderr
    assert not (folder / "out").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="shell tasks are POSIX")
def test_a_task_appended_to_a_task_file_is_the_only_one_that_runs_again(tmp_path: Path) -> None:
    write_configs(tmp_path / "configs", {"alpha": [1.0, 2]}, "[run]\nnice = 0\n")
    tasks = tmp_path / "tasks.txt"
    tasks.write_text("touch A.txt\ntouch B.txt\ntouch C.txt\n")
    args = ["run", "--tasks", "tasks.txt", "--machine", "alpha", "--yes"]
    assert run_module(args, tmp_path).returncode == 0
    for name in "ABC":
        (tmp_path / f"{name}.txt").unlink()
    tasks.write_text("touch A.txt\ntouch B.txt\ntouch C.txt\ntouch D.txt\n")
    again = run_module(args, tmp_path)
    assert again.returncode == 0, again.stderr
    assert sorted(path.name for path in tmp_path.glob("*.txt")) == ["D.txt", "tasks.txt"]
    assert re.search(r"reusing 3 results of plan .*; 1 new jobs", again.stderr)


@pytest.mark.skipif(sys.platform == "win32", reason="shell tasks are POSIX")
def test_an_edited_task_line_is_the_only_one_that_runs_again(tmp_path: Path) -> None:
    write_configs(tmp_path / "configs", {"alpha": [1.0, 2]}, "[run]\nnice = 0\n")
    tasks = tmp_path / "tasks.txt"
    tasks.write_text("echo 1 >> ran.txt\necho 2 >> ran.txt\necho 3 >> ran.txt\n")
    args = ["run", "--tasks", "tasks.txt", "--machine", "alpha", "--yes"]
    assert run_module(args, tmp_path).returncode == 0
    tasks.write_text("echo 1 >> ran.txt\necho 20 >> ran.txt\necho 3 >> ran.txt\n")
    again = run_module(args, tmp_path)
    assert again.returncode == 0, again.stderr
    assert sorted((tmp_path / "ran.txt").read_text().split()) == ["1", "2", "20", "3"]
    assert "1 recorded job is no longer in the pool" in again.stderr
