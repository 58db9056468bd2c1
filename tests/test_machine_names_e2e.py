"""End to end: a machine name from outside machines.json is checked as its names are (17.14).

Names become folder names: one from --machine, $SPLITTER_MACHINE, rescue's
--machines or a report's machines_seen must never lead a write outside --out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_rescue_e2e import _lose_gamma
from test_run_e2e import ENTRY, run, write_campaign


def entry(cwd: Path, *args: str, env: dict[str, str] | None = None):
    environment = {k: v for k, v in os.environ.items() if k != "SPLITTER_MACHINE"}
    environment.update({"CAMPAIGN_SIZE": "24", **(env or {})})
    return subprocess.run(
        [sys.executable, str(ENTRY), *args], cwd=cwd, env=environment,
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def only_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0].removeprefix("campaign_main.py: error: ")


def test_calibrate_refuses_a_machine_name_that_climbs_out_of_out(tmp_path: Path) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    write_campaign(work)
    done = entry(work, "calibrate", "--configs", "configs", "--machine", "../../ESCAPED",
                 "--out", "o", "--seconds", "0.1")  # fmt: skip
    assert only_error(done) == (
        "machine '../../ESCAPED' given by --machine has a name with '/' or '\\', but names"
        " become folder names; use '-' instead"
    )
    found = sorted(p.name for p in tmp_path.rglob("*"))
    assert found == ["a", "b", "configs", "machines.json", "splitter.ini"]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        (
            "/tmp/abs",
            "has a name with '/' or '\\', but names become folder names; use '-' instead",
        ),
        ("bad<name>", "has a name with '<', which Windows forbids in folder names; use '-'"),
        ("..", "has a name that cannot be a folder name; pick another name, like 'lab-1'"),
        ("", "has an empty name; give every machine a name, like 'lab-1'"),
    ],
)
def test_calibrate_refuses_a_machine_name_machines_json_would_refuse(
    tmp_path: Path, name: str, problem: str
) -> None:
    write_campaign(tmp_path)
    done = entry(tmp_path, "calibrate", "--configs", "configs", "--machine", name,
                 "--out", "o", "--seconds", "0.1")  # fmt: skip
    assert only_error(done) == f"machine {name!r} given by --machine {problem}"
    assert not (tmp_path / "o").exists()


def test_splitter_machine_is_checked_by_calibrate_and_run(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    env = {"SPLITTER_MACHINE": "../x"}
    expected = (
        "machine '../x' given by SPLITTER_MACHINE has a name with '/' or '\\', but names become"
        " folder names; use '-' instead"
    )
    calibrated = entry(tmp_path, "calibrate", "--configs", "configs", "--seconds", "0.1", env=env)
    assert only_error(calibrated) == expected
    ran = entry(tmp_path, "run", "--yes", "--configs", "configs", env=env)
    assert only_error(ran) == expected
    assert not (tmp_path / "results").exists()


def test_run_refuses_a_bad_machine_name_before_looking_it_up(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    done = entry(tmp_path, "run", "--yes", "--configs", "configs", "--machine", "bad<name>")
    assert only_error(done) == (
        "machine 'bad<name>' given by --machine has a name with '<', which Windows forbids in"
        " folder names; use '-'"
    )


def test_rescue_refuses_a_bad_name_in_machines(tmp_path: Path) -> None:
    _lose_gamma(tmp_path)
    done = entry(tmp_path, "plan", "--configs", "configs", "--rescue", "merged",
                 "--machines", "alpha,../beta")  # fmt: skip
    assert only_error(done) == (
        "machine '../beta' given by --machines has a name with '/' or '\\', but names become"
        " folder names; use '-' instead"
    )


def test_rescue_refuses_a_report_whose_machines_seen_holds_a_bad_name(tmp_path: Path) -> None:
    report = _lose_gamma(tmp_path)
    path = tmp_path / "merged" / "report.json"
    path.write_text(json.dumps({**report, "machines_seen": ["alpha", "../../beta"]}))
    done = entry(tmp_path, "run", "--yes", "--configs", "configs", "--rescue", "merged",
                 "--machine", "alpha")  # fmt: skip
    assert only_error(done) == (
        f"{Path('merged') / 'report.json'} lists in 'machines_seen' a machine '../../beta' that"
        " has a name with '/' or '\\', but names become folder names; use '-' instead; merge"
        " again, or pass --machines with the names of the machines to rescue on"
    )


def test_a_rescue_folder_name_too_long_for_a_folder_is_refused(tmp_path: Path) -> None:
    long = "\U0001f600" * 60  # 240 bytes: a valid name, not with ".rescue-xxxxxxxx" after it
    write_campaign(tmp_path)
    (tmp_path / "configs" / "machines.json").write_text(
        json.dumps({"alpha": [1.0, 2], long: [1.0, 2], "gamma": [1.0, 2]})
    )
    assert run(tmp_path, "--machine", "alpha").returncode == 0
    merged = subprocess.run(
        [sys.executable, "-m", "splitter", "merge", "results/alpha", "--out", "merged"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert merged.returncode == 4, merged.stderr
    done = entry(tmp_path, "run", "--yes", "--configs", "configs", "--rescue", "merged",
                 "--machines", f"alpha,{long}", "--machine", long)  # fmt: skip
    assert done.returncode == 2, done.stderr
    error = done.stderr.strip().splitlines()[-1].removeprefix("campaign_main.py: error: ")
    assert error.startswith(f"machine {long!r} would write in a folder '{long}.rescue-")
    assert error.endswith(
        "', which has a name 256 bytes long in UTF-8; shorten it to at most 255 bytes, since"
        " names become folder names"
    )
