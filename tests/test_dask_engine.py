"""The Dask engine's pure parts, its install hint, and that nothing loads Dask unasked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from splitter.errors import UsageError
from splitter.run.dask.cluster import parse_address
from splitter.run.dask.engine import TARGET_BATCH_SECONDS, DaskEngine, batch_size
from splitter.run.dask.task import pack, unpack
from test_run_e2e import ENTRY, write_campaign

# Runs the entry script in this interpreter after poisoning (or only watching)
# the import of Dask, then says which Dask modules were loaded.
_HARNESS = """
import json, runpy, sys
if {poison}:
    sys.modules["distributed"] = None
sys.argv = {argv}
try:
    runpy.run_path({entry!r}, run_name="__main__")
except SystemExit as exc:
    code = exc.code
print(json.dumps({{"code": code, "loaded": sorted(
    name for name in sys.modules
    if name.split(".")[0] in ("dask", "distributed") and sys.modules[name] is not None
)}}))
"""


def harness(tmp_path: Path, argv: list[str], *, poison: bool) -> tuple[dict[str, object], str]:
    code = _HARNESS.format(poison=poison, argv=[str(ENTRY), *argv], entry=str(ENTRY))
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return json.loads(result.stdout.splitlines()[-1]), result.stderr


def test_a_batch_starts_with_one_job_while_durations_are_unknown() -> None:
    assert batch_size(None, 1, pending=10_000, threads=4) == 1


def test_a_batch_holds_about_the_target_seconds_of_work() -> None:
    assert batch_size(0.001, 1000, pending=100_000, threads=2) == int(TARGET_BATCH_SECONDS / 0.001)


def test_a_batch_grows_at_most_sixteenfold() -> None:
    assert batch_size(0.0001, 3, pending=100_000, threads=2) == 48


def test_batches_shrink_towards_the_end_so_no_worker_waits_on_a_long_one() -> None:
    assert batch_size(0.001, 200, pending=40, threads=4) == 5
    assert batch_size(0.001, 200, pending=3, threads=4) == 1


def test_an_address_is_a_scheduler_or_a_local_cluster_of_n_workers() -> None:
    assert parse_address("tcp://10.0.0.5:8786") == ("tcp://10.0.0.5:8786", None)
    assert parse_address("local:3") == (None, 3)
    assert parse_address("local")[0] is None


def test_an_empty_address_is_refused_with_what_to_pass() -> None:
    with pytest.raises(UsageError, match="needs a scheduler address"):
        parse_address(" ")


def test_rows_and_log_records_travel_back_as_they_were() -> None:
    rows = [(3, "ok", 1.5, 0.25, "", {"a": 1}), (4, "error", 2.0, 0.5, "ValueError: x", None)]
    records = [{"msg": "job 3 starts", "levelno": 20}]
    assert unpack(pack(rows, records)) == (rows, records)


def test_a_value_that_cannot_travel_becomes_an_error_row() -> None:
    rows, _ = unpack(pack([(3, "ok", 1.5, 0.25, "", lambda: 1)], []))
    assert rows[0][:4] == (3, "error", 1.5, 0.25)
    assert rows[0][4].startswith("the job's result cannot be sent from its worker: ")
    assert rows[0][5] is None


class _FinishedButGone:
    """A future whose batch finished on a worker that went away before its rows were fetched."""

    status = "finished"

    def result(self) -> object:
        raise ConnectionResetError(104, "Connection reset by peer")

    def cancel(self) -> None:
        pass


class _Connection:
    def check(self) -> None:
        pass

    def threads(self) -> int:
        return 1

    def submit(self, *args: object) -> _FinishedButGone:
        return _FinishedButGone()


class _Cluster:
    attempts = 3

    def connect(self, *args: object) -> _Connection:
        return _Connection()


def test_rows_that_cannot_be_fetched_from_a_vanished_worker_run_again() -> None:
    cluster: Any = _Cluster()
    setup: Any = None  # The fake connection never sends it.
    engine = DaskEngine(cluster, setup, ["a", "b"], [0, 1], lambda record: None, None)
    engine.start()
    engine._submit()
    batches = list(engine._batches)
    for key in batches:
        engine._put("done", key)
    assert engine.step(0.0) == []
    assert engine.step(0.0) == []
    assert sorted(job for batch in engine._batches.values() for job in batch.jobs) == [0, 1]


def test_without_dask_installed_dask_says_how_to_install_it(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    argv = ["run", "--all", "--yes", "--configs", "configs", "--dask", "local:2"]
    outcome, stderr = harness(tmp_path, argv, poison=True)
    assert outcome["code"] == 2
    assert "--dask needs the optional Dask support" in stderr
    assert "install it with pip install 'splitter[dask]'" in stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("argv", [["--help"], ["digest", "--configs", "configs"]])
def test_nothing_loads_dask_unless_dask_is_given(tmp_path: Path, argv: list[str]) -> None:
    write_campaign(tmp_path)
    outcome, _ = harness(tmp_path, argv, poison=False)
    assert outcome == {"code": 0, "loaded": []}


def test_a_run_without_dask_loads_no_dask(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    argv = ["run", "--all", "--yes", "--configs", "configs", "--workers", "1"]
    outcome, stderr = harness(tmp_path, argv, poison=False)
    assert outcome == {"code": 0, "loaded": []}, stderr
