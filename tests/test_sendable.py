"""Tests for splitter.run.sendable: a job or item the workers cannot receive, refused or recorded.

Before a run: a lambda job (local pool) and a sampled item that does not pickle
are refused, exit 2. During it: an item beyond the sample becomes its job's
error row, on the local pool and on Dask alike, and the run goes on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import jobs_for_tests as jobs
from splitter.campaign.identity import JobKeys
from splitter.errors import UsageError
from splitter.run.dask.engine import DaskEngine
from splitter.run.engine import FormattedRows, JobPool, JobSetup, Row
from splitter.run.local.supervisor import Supervisor
from splitter.run.sendable import SAMPLE, check_sendable, split_sendable, unsendable
from test_run_e2e import write_campaign

LOCK_PROBLEM = "TypeError: cannot pickle '_thread.lock' object"
ITEM_FIX = (
    "items travel by pickle, so make them of values that pickle (numbers, strings, tuples,"
    " lists, dicts, arrays, objects of classes the workers can import), not locks, open"
    " files, generators or lambdas"
)


class Holder:
    """An item that cannot travel: it holds a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()


def pool_of(items: list[Any]) -> JobPool:
    return JobPool(items, JobKeys(np.zeros((len(items), 2), dtype=np.uint64)))


def test_a_lock_is_unsendable_and_says_why() -> None:
    assert unsendable(threading.Lock()) == LOCK_PROBLEM
    assert unsendable((1, "a", [2.0])) is None


def test_a_lambda_job_is_refused_with_the_fix() -> None:
    with pytest.raises(UsageError) as caught:
        check_sendable(lambda x: x, pool_of([1, 2]), [0, 1])
    assert str(caught.value).startswith(
        "the job function test_a_lambda_job_is_refused_with_the_fix.<locals>.<lambda> cannot be"
        " sent to the worker processes (AttributeError: Can't pickle local object "
    )
    assert str(caught.value).endswith(
        "; they start with spawn and import it by its name, so define it with `def` at the top"
        " level of the entry script (not a lambda or a nested function)"
    )


def test_a_nested_function_is_refused_too() -> None:
    def inner(x: int) -> int:
        return x

    with pytest.raises(UsageError, match=r"^the job function test_a_nested_function_is_refused"):
        check_sendable(inner, pool_of([1]), [0])


def test_dask_takes_a_lambda_job_by_value() -> None:
    pytest.importorskip("cloudpickle", reason="cloudpickle comes with dask")
    check_sendable(lambda x: x, pool_of([1, 2]), [0, 1], dask=True)


def test_an_item_that_does_not_pickle_is_refused_naming_its_job() -> None:
    items: list[Any] = [1, 2, Holder(), 4]
    with pytest.raises(UsageError) as caught:
        check_sendable(jobs.square, pool_of(items), [3, 2, 1, 0])
    assert str(caught.value) == (
        f"job 2's item cannot be sent to a worker ({LOCK_PROBLEM}); {ITEM_FIX}"
    )


def test_a_large_share_is_checked_on_a_sample_spread_over_it() -> None:
    items: list[Any] = list(range(10_000))
    items[-1] = Holder()  # the last of the share is always in the sample
    with pytest.raises(UsageError, match=r"^job 9999's item"):
        check_sendable(jobs.square, pool_of(items), range(10_000))
    items[-1], items[5_001] = 1, Holder()  # between two sampled items: found later
    check_sendable(jobs.square, pool_of(items), range(10_000))
    assert SAMPLE < 10_000


def test_a_batch_keeps_what_pickles_and_makes_error_rows_of_the_rest() -> None:
    entries = [(0, bytes(16), 1, None), (1, bytes(16), Holder(), None)]
    kept, refused = split_sendable(entries)
    assert kept == entries[:1]
    assert [(row[0], row[1], row[4]) for row in refused] == [
        (1, "error", f"the job's item cannot be sent to a worker ({LOCK_PROBLEM}); {ITEM_FIX}")
    ]


def setup(job: Any) -> JobSetup:
    return JobSetup(
        job=job, machine="alpha", campaign_seed=bytes(32), config_text="",
        config_source="test.ini", log_level=30, log_format="%(message)s",
        declared_columns=(), nice=0, job_log_dir=None, compression_level=3,
    )  # fmt: skip


def test_the_local_pool_records_an_item_it_cannot_send_as_its_jobs_error_row() -> None:
    items: list[Any] = [0, 1, 2, Holder(), 4, 5]
    supervisor = Supervisor(setup(jobs.item_value), pool_of(items), range(6), 1, lambda r: None)
    supervisor.start()
    rows: list[Row] = []
    try:
        while not supervisor.finished:
            for received in supervisor.step(0.05):
                assert not isinstance(received, FormattedRows)
                rows.append(received)
    finally:
        supervisor.close()
    statuses = {row[0]: (row[1], row[5]) for row in rows}
    assert statuses == {0: ("ok", 0), 1: ("ok", 1), 2: ("ok", 2), 3: ("error", None),
                        4: ("ok", 4), 5: ("ok", 5)}  # fmt: skip
    assert next(row[4] for row in rows if row[0] == 3).startswith(
        "the job's item cannot be sent to a worker (TypeError: cannot pickle"
    )


class _Future:
    status = "pending"

    def cancel(self) -> None:
        pass


class _SerializingConnection:
    """Dask's client as far as submit goes: it refuses a batch that does not serialize."""

    def __init__(self) -> None:
        self.sent: list[list[int]] = []

    def check(self) -> None:
        pass

    def threads(self) -> int:
        return 8

    def submit(self, function: Any, key: str, entries: Any, *args: Any, done: Any) -> _Future:
        import pickle

        pickle.dumps(entries)  # raises as distributed's serialization does
        self.sent.append([entry[0] for entry in entries])
        return _Future()


class _Cluster:
    attempts = 3

    def __init__(self) -> None:
        self.connection = _SerializingConnection()

    def connect(self, *args: object) -> _SerializingConnection:
        return self.connection


def test_dask_records_an_item_it_cannot_send_as_its_jobs_error_row() -> None:
    cluster = _Cluster()
    items: list[Any] = [0, Holder(), 2]
    engine = DaskEngine(cluster, setup(jobs.item_value), pool_of(items), range(3),  # type: ignore[arg-type]
                        lambda r: None, None)  # fmt: skip
    engine.start()
    rows = engine.step(0.01)
    assert [(row[0], row[1]) for row in rows if not isinstance(row, FormattedRows)] == [
        (1, "error")
    ]
    assert sorted(job for sent in cluster.connection.sent for job in sent) == [0, 2]


def test_a_lambda_job_exits_2_before_anything_is_made(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    (tmp_path / "lambda_main.py").write_text(
        "import multiprocessing\nimport splitter\n\n"
        'if __name__ == "__main__":\n'
        "    multiprocessing.freeze_support()\n"
        "    splitter.main(lambda x: x, list(range(5)))\n"
    )
    done = subprocess.run(
        [sys.executable, "lambda_main.py", "run", "--yes", "--configs", "configs", "--all"],
        cwd=tmp_path, env={k: v for k, v in os.environ.items() if k != "SPLITTER_MACHINE"},
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("lambda_main.py: error: the job function <lambda> cannot be sent")
    assert not (tmp_path / "results").exists()
