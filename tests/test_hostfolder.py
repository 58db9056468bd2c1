"""Tests for splitter.store.hostfolder: a host folder's manifest, checked before it is used.

The folder is a real one, run by the CLI once; each test edits a copy of its
manifest by hand, as the field findings of issue 17 did.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_module
from splitter.errors import ConfigError
from splitter.merge.status import folder_status
from splitter.store.frames import CorruptFileError
from splitter.store.hostfolder import read_host
from test_run_e2e import ENTRY, write_campaign


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """alpha's folder after a finished run of a 24-job campaign."""
    root = tmp_path_factory.mktemp("ran")
    write_campaign(root)
    done = subprocess.run(
        [sys.executable, str(ENTRY), "run", "--yes", "--configs", "configs", "--machine",
         "alpha", "--workers", "1"],
        cwd=root, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        env={**os.environ, "CAMPAIGN_SIZE": "24"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return root / "results" / "alpha"


def edited(ran: Path, tmp_path: Path, text: str) -> Path:
    """A copy of the folder whose manifest.json is ``text``."""
    folder = tmp_path / "alpha"
    shutil.copytree(ran, folder)
    (folder / "manifest.json").write_text(text)
    return folder


def with_field(ran: Path, tmp_path: Path, field: str, value: str) -> Path:
    """A copy of the folder with one manifest field set to ``value``, a JSON literal."""
    manifest = json.loads((ran / "manifest.json").read_text())
    manifest[field] = "@VALUE@"
    return edited(ran, tmp_path, json.dumps(manifest).replace('"@VALUE@"', value))


def test_a_total_its_plan_file_disagrees_with_is_refused_before_counting(
    ran: Path, tmp_path: Path
) -> None:
    folder = with_field(ran, tmp_path, "total", "1000000000")
    with pytest.raises(CorruptFileError) as caught:
        folder_status(folder)  # it allocated 7.5 GiB for 10^9 jobs
    assert str(caught.value) == (
        f"{folder / 'manifest.json'} has total 1,000,000,000, but its plan.zst holds 24 jobs:"
        " a manifest was edited; restore the manifest.json that `run` wrote there, or rerun"
        " `run` on that machine to rewrite it"
    )


def test_a_folder_without_its_plan_file_is_refused_naming_it(ran: Path, tmp_path: Path) -> None:
    folder = with_field(ran, tmp_path, "state", '"finished"')
    (folder / "plan.zst").unlink()
    with pytest.raises(ConfigError) as caught:
        folder_status(folder)
    assert str(caught.value) == (
        f"{folder} has no plan.zst of its plan, which is needed to tell which jobs the campaign"
        " holds; run that folder's plan again (nothing reruns) to rewrite it"
    )


def test_an_integer_of_5000_digits_is_named_not_a_traceback(ran: Path, tmp_path: Path) -> None:
    folder = with_field(ran, tmp_path, "share", "9" * 5000)
    with pytest.raises(CorruptFileError) as caught:
        read_host(folder)
    assert str(caught.value).startswith(
        f"{folder / 'manifest.json'} is not valid JSON (Exceeds the limit (4300 digits) for"
        " integer string conversion"
    )
    assert str(caught.value).endswith(
        "; restore the manifest.json that `run` wrote there, or rerun `run` on that machine to"
        " rewrite it"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("jobs_done", "1" + "0" * 400),
        ("jobs_done", "-1"),
        ("rate_jobs_per_s", "NaN"),
        ("rate_jobs_per_s", "Infinity"),
        ("busy_seconds", "-5"),
        ("wall_seconds", '"long"'),
        ("updated", "1e400"),
        ("cores", "true"),
    ],
)
def test_a_capacity_field_out_of_range_is_named(
    ran: Path, tmp_path: Path, field: str, value: str
) -> None:
    folder = with_field(ran, tmp_path, field, value)
    with pytest.raises(CorruptFileError) as caught:
        read_host(folder)
    assert str(caught.value) == (
        f"{folder / 'manifest.json'} has no valid {field!r}; restore the manifest.json that"
        " `run` wrote there, or rerun `run` on that machine to rewrite it"
    )


def test_status_and_merge_exit_2_with_one_sentence_on_a_nan_rate(
    ran: Path, tmp_path: Path
) -> None:
    folder = with_field(ran, tmp_path, "rate_jobs_per_s", "NaN")
    for args in (["status", str(folder)], ["merge", str(folder), "--out", "m"]):
        done = run_module(args, tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines() == [
            f"splitter: error: {folder / 'manifest.json'} has no valid 'rate_jobs_per_s';"
            " restore the manifest.json that `run` wrote there, or rerun `run` on that"
            " machine to rewrite it"
        ]


def test_an_unedited_folder_reads_as_run_wrote_it(ran: Path) -> None:
    host = read_host(ran)
    assert (host.machine, host.total, host.state) == ("alpha", 24, "finished")
    assert host.observed is not None and host.observed.jobs_done == host.share
    assert folder_status(ran).remaining == 0
