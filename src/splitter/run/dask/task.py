"""The Dask task: one batch of jobs, run in a Dask worker, its rows sent back.

Runs in a Dask worker process, on any machine of the cluster. The campaign's
`JobSetup` arrives as bytes pickled once by the client (cloudpickle: a job
defined in the entry script's ``__main__`` travels by value, so workers need
not import the script) and is unpickled once per worker process. Jobs run
through `splitter.run.jobcall.JobCall`, as in the local pool.

Besides its return value, a batch speaks on the run's event topic (worker ->
scheduler -> client), each message a dict of msgpack types:

    {"kind": "begin",   "batch": key, "worker": address}
    {"kind": "rows",    "batch": key, "worker": address, "data": pickled rows and log records}
    {"kind": "running", "batch": key, "job": id, "seconds": s, "value": v, "base": b}
    {"kind": "timeout", "batch": key, "job": id, "start": epoch, "seconds": s}

"rows" goes out at most every ``SEND_INTERVAL`` seconds during a long batch,
so a worker that dies loses only its last unsent rows (they run again); the
rest of the rows are the return value. A watchdog thread per worker process
sends "running" for jobs that run long and enforces ``job_timeout``: a job
past it cannot be stopped inside the process, so the watchdog reports it and
ends the worker process, which the Dask nanny restarts.

Dask cannot stop a running task either: when the client cancels a batch (a
stop) or goes away, the worker only marks it cancelled. A batch checks that
mark before each job and drops what it ran since, and jobs see it as
``job_context.cancelled()``: a shell task is stopped within a quarter second.
"""

from __future__ import annotations

import itertools
import logging
import os
import pickle
import socket
import threading
import time
from contextlib import suppress
from typing import Any

from splitter.campaign.config import parse_config
from splitter.run.engine import BatchEntry, JobSetup, LogLines, Row, host_hook
from splitter.run.injection import Progress
from splitter.run.jobcall import (
    JobCall,
    JobLogCollector,
    opened,
    record_dict,
    sealed,
    write_job_log,
)

__all__ = ["SEND_INTERVAL", "TIMEOUT_EXIT_CODE", "on_host", "pack", "run_batch", "unpack"]

SEND_INTERVAL = 0.5
WATCH_INTERVAL = 0.2
RUNNING_AFTER = 1.0
TIMEOUT_EXIT_CODE = 75
# A worker's messages leave every 2 ms. Once a worker has died in the run
# ("careful"), a job run alone (a suspect), and the batch after one, wait this
# long first, so the scheduler knows that the task before finished and this
# one began before a job may kill the process: the death is then counted
# against the right job. Before the first death it would cost every batch of
# one (the first batches, the last ones) this wait for nothing; the first
# death may count against the single job run just before on its worker too,
# which costs that job one of its attempts (a run with one attempt is careful
# from the start).
SUSPECT_FLUSH_SECONDS = 0.05
IDLE = -1.0

Records = list[dict[str, Any]]

_setups: dict[bytes, tuple[JobSetup, Any]] = {}
_active: set[_BatchRun] = set()
_indices: set[int] = set()
_lock = threading.Lock()
_watchdog: threading.Thread | None = None
_previous_single = [False]


def pack(rows: list[Row], records: Records) -> bytes:
    """Rows and log records as bytes for the client; a value that cannot travel: an error row.

    Each value is pickled alone (`jobcall.sealed`), so one that does not
    unpickle on the client costs its own row only.
    """
    travelling = [sealed(row) for row in rows]
    try:
        return pickle.dumps((travelling, records))
    except Exception:
        safe = [{k: v for k, v in r.items() if _plain(v)} for r in records]
        return pickle.dumps((travelling, safe))


def unpack(data: bytes) -> tuple[list[Row], Records]:
    """The client's side of `pack`: a value that does not unpickle here makes an error row."""
    rows, records = pickle.loads(data)
    return [opened(row) for row in rows], records


def _plain(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


class _BatchRun:
    """Runs in a Dask worker: one batch's state, shared with the watchdog."""

    def __init__(self, worker: Any, topic: str, key: str, job_timeout: float | None) -> None:
        self.worker = worker
        self.topic = topic
        self.key = key
        self.job_timeout = job_timeout
        self.slots: list[float] = [IDLE, 0.0, 0.0, 0.0]  # job, started, progress, base
        self.started_wall = 0.0
        self.unsent: list[Row] = []
        self.records: Records = []
        self.lock = threading.Lock()
        self.last_running = 0.0

    def emit(self, message: dict[str, Any]) -> None:
        self.worker.log_event(self.topic, {"batch": self.key, **message})

    def take(self) -> bytes:
        with self.lock:
            rows, records, self.unsent, self.records = self.unsent, self.records, [], []
        return pack(rows, records)

    def cancelled(self) -> bool:
        """Whether the scheduler has given this batch up (its client cancelled it, or left).

        Dask cannot stop a running task: it marks it cancelled in the worker's
        state and drops its result. A batch that sees it stops its jobs itself.
        """
        task = self.worker.state.tasks.get(self.key)
        return task is None or task.state == "cancelled"

    def send_rows(self) -> None:
        self.emit({"kind": "rows", "worker": self.worker.address, "data": self.take()})

    def watch(self, now: float) -> bool:
        """Runs in the watchdog thread: report a long job; True when it timed out."""
        job_id, started, value, base = self.slots
        if job_id == IDLE:
            return False
        seconds = now - started
        if self.job_timeout is not None and seconds > self.job_timeout:
            self.send_rows()
            self.emit(
                {"kind": "timeout", "job": int(job_id), "start": self.started_wall,
                 "seconds": seconds, "host": socket.gethostname()}
            )  # fmt: skip
            return True
        if seconds > RUNNING_AFTER and now - self.last_running >= RUNNING_AFTER:
            self.last_running = now
            self.emit(
                {"kind": "running", "job": int(job_id), "seconds": seconds, "value": value,
                 "base": base}
            )  # fmt: skip
        return False


class _ThreadRecords(logging.Handler):
    """Collects the log records of one task thread into its batch."""

    def __init__(self, run: _BatchRun, level: int) -> None:
        super().__init__(level)
        self.run = run
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread:
            return
        try:
            data = record_dict(record)
            data["processName"] = f"dask-worker {self.run.worker.address}"
            with self.run.lock:
                self.run.records.append(data)
        except Exception:
            self.handleError(record)


def run_batch(
    payload: bytes,
    topic: str,
    key: str,
    batch: list[BatchEntry],
    job_timeout: float | None,
    careful: bool,
) -> tuple[str, bytes]:
    """Runs in a Dask worker: run ``batch`` (`BatchEntry`s); return (worker, packed rows)."""
    from distributed import get_worker

    worker = get_worker()
    setup, config = _setup(payload)
    run = _BatchRun(worker, topic, key, job_timeout)
    run.emit({"kind": "begin", "worker": worker.address})
    if careful and (len(batch) == 1 or _previous_single[0]):
        time.sleep(SUSPECT_FLUSH_SECONDS)
    _previous_single[0] = len(batch) == 1
    handler = _ThreadRecords(run, setup.log_level)
    root = logging.getLogger()
    root.addHandler(handler)
    job_logs = (
        JobLogCollector(setup.machine, setup.log_format, threading.get_ident())
        if setup.job_log_dir
        else None
    )
    if job_logs is not None:
        root.addHandler(job_logs)
    _watch(run)
    index = _take_index()
    try:
        progress = Progress(run.slots, 2)
        call = JobCall(setup, config, progress, worker=index, cancelled=run.cancelled)
        _run_jobs(run, call, batch, job_logs)
    finally:
        with _lock:
            _active.discard(run)
            _indices.discard(index)
        root.removeHandler(handler)
        if job_logs is not None:
            root.removeHandler(job_logs)
    return worker.address, run.take()


def on_host(payload: bytes, stage: str) -> tuple[str, LogLines]:
    """Runs in one Dask worker per host: the job's host hooks (PERENGINE); (host, what to log)."""
    setup, _ = _setup(payload)
    return socket.gethostname(), host_hook(setup, stage)


def _take_index() -> int:
    """The lowest worker index no batch of this process is using: 0..threads-1.

    It is ``job_context.worker`` (a task's SPLITTER_WORKER), so batches that
    run at once in one Dask worker process never share a GPU or a scratch
    folder picked by it.
    """
    with _lock:
        index = next(i for i in itertools.count() if i not in _indices)
        _indices.add(index)
        return index


def _run_jobs(
    run: _BatchRun, call: JobCall, batch: list[BatchEntry], job_logs: JobLogCollector | None
) -> None:
    slots = run.slots
    last_send = time.monotonic()
    for job_id, job_key, item, _ in batch:
        if run.cancelled():
            return  # No one takes these rows: a job stopped half-way must not read as run.
        if job_logs is not None:
            job_logs.lines.clear()
        slots[2] = slots[3] = 0.0
        slots[1] = time.monotonic()
        run.started_wall = time.time()
        slots[0] = job_id
        row = call(job_id, job_key, item)
        slots[0] = IDLE
        if run.cancelled():
            return
        with run.lock:
            run.unsent.append(row)
        if job_logs is not None and job_logs.lines:
            # The folder exists where the client's disk is visible (local:N, a shared disk).
            with suppress(OSError):
                write_job_log(call.setup, job_id, job_logs.lines)
        now = time.monotonic()
        if now - last_send >= SEND_INTERVAL:
            run.send_rows()
            last_send = now


def _setup(payload: bytes) -> tuple[JobSetup, Any]:
    """The unpickled setup and its parsed config, once per worker process and campaign."""
    with _lock:
        found = _setups.get(payload)
        if found is None:
            setup: JobSetup = pickle.loads(payload)
            found = (setup, parse_config(setup.config_text, setup.config_source))
            _setups.clear()  # One campaign at a time: do not hold old ones forever.
            _setups[payload] = found
            root = logging.getLogger()
            if root.getEffectiveLevel() > setup.log_level:
                root.setLevel(setup.log_level)
        return found


def _watch(run: _BatchRun) -> None:
    global _watchdog
    with _lock:
        _active.add(run)
        if _watchdog is None:
            _watchdog = threading.Thread(target=_watchdog_loop, name="splitter-watchdog")
            _watchdog.daemon = True
            _watchdog.start()


def _watchdog_loop() -> None:
    """Runs in a Dask worker's watchdog thread for the life of the process."""
    while True:
        time.sleep(WATCH_INTERVAL)
        with _lock:
            runs = list(_active)
        now = time.monotonic()
        if any([run.watch(now) for run in runs]):
            # Let the batched stream carry the messages out before the process ends.
            time.sleep(1.0)
            os._exit(TIMEOUT_EXIT_CODE)
