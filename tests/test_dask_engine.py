"""The Dask engine's pure parts, its install hint, and that nothing loads Dask unasked."""

from __future__ import annotations

import ast
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

import splitter.run.dask
from labels import keys_of
from splitter.errors import UsageError
from splitter.run.dask import task
from splitter.run.dask.cluster import parse_address
from splitter.run.dask.engine import (
    MIN_BATCH_SECONDS,
    TARGET_BATCH_SECONDS,
    DaskEngine,
    batch_size,
)
from splitter.run.dask.task import pack, unpack
from splitter.run.engine import JobPool
from splitter.run.jobcall import JobLogCollector
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
    # 10 ms jobs: 50 make the target; 320 left on 4 threads: a 16th of them.
    assert batch_size(0.01, 200, pending=320, threads=4) == 20


def test_a_slower_worker_in_the_cluster_shrinks_the_last_batches_further() -> None:
    assert batch_size(0.01, 200, pending=320, threads=4, spread=2.5) == 8


def test_no_batch_at_the_end_is_shorter_than_a_round_trip_is_worth() -> None:
    # 1 ms jobs: at least MIN_BATCH_SECONDS of them, however few are left.
    assert batch_size(0.001, 200, pending=40, threads=4) == int(MIN_BATCH_SECONDS / 0.001)


def test_an_address_is_a_scheduler_or_a_local_cluster_of_n_workers() -> None:
    assert parse_address("tcp://10.0.0.5:8786") == ("tcp://10.0.0.5:8786", None)
    assert parse_address("local:3") == (None, 3)
    assert parse_address("local")[0] is None


@pytest.mark.parametrize(
    "address",
    ["tcp://10.0.0.5:8786", "tls://sched.lab:8786", "10.0.0.5:8786", "tcp://[::1]:8786",
     " local:2 "],
)  # fmt: skip
def test_the_forms_of_address_dask_takes_are_accepted(address: str) -> None:
    found = parse_address(address)
    assert found == ((None, 2) if "local" in address else (address, None))


@pytest.mark.parametrize(
    "address",
    ["local:abc", "tcp://127.0.0.1:notaport", "udp://127.0.0.1:8786", "local:2:3",
     "tcp://127.0.0.1", "tcp://127.0.0.1:70000", "sched.lab", "tcp://a b:1"],
)  # fmt: skip
def test_an_address_dask_cannot_take_is_refused_naming_the_forms(address: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_address(address)
    assert str(caught.value) == (
        f"--dask {address!r} is not a Dask address; pass tcp://HOST:PORT or tls://HOST:PORT"
        " (a scheduler, like tcp://10.0.0.5:8786), HOST:PORT, local (a cluster of this"
        " host's CPUs) or local:N (of N workers)"
    )


def test_a_bad_address_exits_2_before_the_output_folder_is_made(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    for argv, env in (
        (["--dask", "local:abc"], {}),
        ([], {"SPLITTER_DASK": "udp://127.0.0.1:8786"}),
    ):
        done = subprocess.run(
            [sys.executable, str(ENTRY), "run", "--yes", "--configs", "configs", "--all",
             *argv],
            cwd=tmp_path, env={**os.environ, "CAMPAIGN_SIZE": "4", **env},
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert (
            done.stderr.strip()
            .splitlines()[-1]
            .startswith(f"campaign_main.py: error: {'--dask' if argv else 'SPLITTER_DASK'} '")
        )
        assert "is not a Dask address; pass tcp://HOST:PORT" in done.stderr
    assert not (tmp_path / "results").exists()


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
    def __init__(self) -> None:
        self.submitted: list[tuple[object, ...]] = []

    def check(self) -> None:
        pass

    def threads(self) -> int:
        return 1

    def submit(self, *args: object, done: object) -> _FinishedButGone:
        self.submitted.append(args)
        return _FinishedButGone()


class _Cluster:
    def __init__(self, attempts: int = 3) -> None:
        self.attempts = attempts
        self.connection = _Connection()

    def connect(self, *args: object) -> _Connection:
        return self.connection


def _engine(cluster: _Cluster, jobs: int) -> DaskEngine:
    # The fake connection never sends it: only its job is read (no host hooks).
    setup: Any = SimpleNamespace(job=abs)
    pool = JobPool(list(range(jobs)), keys_of(jobs))
    engine = DaskEngine(cast(Any, cluster), setup, pool, range(jobs), lambda r: None, None)
    engine.start()
    return engine


def test_batches_wait_for_the_worker_messages_only_once_a_worker_has_died() -> None:
    cluster = _Cluster()
    engine = _engine(cluster, 4)
    engine._submit()
    first, second = engine._batches.values()
    assert [args[-1] for args in cluster.connection.submitted] == [False, False]
    first.worker = "tcp://w1"
    engine._handle("lost", ("tcp://w1", [first.key]), [])
    engine._drop(second)  # Room for one more batch in flight.
    engine._submit()
    assert [args[-1] for args in cluster.connection.submitted] == [False, False, True]


def test_with_one_attempt_every_batch_is_careful_from_the_start() -> None:
    cluster = _Cluster(attempts=1)
    _engine(cluster, 2)._submit()
    assert [args[-1] for args in cluster.connection.submitted] == [True, True]


def test_rows_that_cannot_be_fetched_from_a_vanished_worker_run_again() -> None:
    engine = _engine(_Cluster(), 2)
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


def test_batches_running_at_once_in_one_dask_worker_process_get_distinct_worker_indices() -> None:
    first, second = task._take_index(), task._take_index()
    try:
        assert (first, second) == (0, 1)
        task._indices.discard(first)  # The first batch ended.
        assert task._take_index() == 0
    finally:
        task._indices.clear()


def test_a_per_job_log_on_a_dask_worker_keeps_only_its_own_threads_lines() -> None:
    collector = JobLogCollector("alpha", "%(machine)s %(message)s", threading.get_ident())
    logger = logging.getLogger("test.per_job")
    logger.addHandler(collector)
    try:
        logger.warning("mine")
        other = threading.Thread(target=logger.warning, args=("another job's",))
        other.start()
        other.join()
    finally:
        logger.removeHandler(collector)
    assert [line.split(" ", 1)[1] for line in collector.lines] == ["alpha mine"]


def test_the_dask_modules_import_one_way_with_no_circle() -> None:
    package = Path(splitter.run.dask.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
        prefix = "splitter.run.dask."
        graph[path.stem] = {name[len(prefix) :] for name in imported if name.startswith(prefix)}
    assert graph["cluster"] == set()
    assert graph["engine"] == {"cluster", "task"}

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import circle: {' -> '.join((*path, module))}"
        for imported_module in graph.get(module, set()):
            visit(imported_module, (*path, module))

    for module in graph:
        visit(module, ())
