"""The worker process: runs batches of jobs and sends back one row per job.

Runs in a worker process (started with the ``spawn`` method, also when
frozen). Protocol over the worker's own duplex pipe, strictly alternating so
neither side can block the other on a full pipe:

    parent -> worker   (columns, batch, grant): the results' job columns once
                       fixed (else None), a list of `BatchEntry` (job_id, job
                       key, item, input label) and the `Grant` of what its
                       jobs hold (cores, GPUs, variables, pinning, memory);
                       None: "exit"
    worker -> parent   (kind, payload, batch_done, busy_seconds), any number
                       per batch, the last one with batch_done=True: kind
                       "rows" carries Row tuples, "text" a FormattedRows (the
                       rows as CSV lines: the parent only appends them;
                       "rows": each value pickled alone, see `jobcall.sealed`)
                       ("log", record_dict) for every log record

A pipe per worker (not one shared queue) means a worker killed mid-write can
only damage its own pipe, which the parent then discards with the worker.

Shared memory holds one slot per worker: (job_id, started, progress value,
progress base, process group). The parent reads it to know which job a dead
worker was running, to enforce timeouts and to draw progress, without any
message; the process group (0: none) is the one a job's own children run in
(shell tasks), which the parent kills with the job.

A worker never outlives its parent: it asks the kernel for SIGKILL when the
parent dies (Linux), else a thread watches a second pipe, the lifeline, which
nothing is written to and only the parent holds open.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, MutableSequence, Sequence
from multiprocessing.connection import Connection
from typing import Any

from splitter.campaign.config import parse_config
from splitter.run.engine import BatchEntry, FormattedRows, JobSetup, Row
from splitter.run.injection import Progress
from splitter.run.jobcall import (
    BatchLabels,
    JobCall,
    JobLogCollector,
    record_dict,
    sealed,
    write_job_log,
)
from splitter.run.lifeline import die_with_parent, exit_when_closed
from splitter.run.local.hold import Holder
from splitter.store.rowformat import RowFormat

__all__ = ["GROUP", "IDLE", "SLOT_WIDTH", "worker_main"]

SLOT_WIDTH = 5
GROUP = 4
"""Offset in a slot of the process group of the job's children (0: none)."""
IDLE = -1.0
# A worker sends the rows of a long batch at least this often, so results of
# slow jobs reach the file (and survive a crash) without waiting for the batch.
SEND_INTERVAL = 0.25


class _PipeLogHandler(logging.Handler):
    """Sends each record to the parent as a plain dict (tracebacks pre-formatted)."""

    def __init__(self, send: Callable[[object], None]) -> None:
        super().__init__()
        self._send = send
        self._pid = os.getpid()

    def emit(self, record: logging.LogRecord) -> None:
        if os.getpid() != self._pid:
            return  # A process the job forked must never speak on the worker's pipe.
        try:
            self._send(("log", record_dict(record)))
        except Exception:
            self.handleError(record)


class _Worker:
    """Runs in a worker process: the state kept across batches."""

    def __init__(
        self, conn: Connection, setup: JobSetup, slots: MutableSequence[float], slot: int
    ) -> None:
        self.conn = conn
        self.setup = setup
        self.slots = slots
        self.base = slot * SLOT_WIDTH
        self.send_lock = threading.Lock()
        config = parse_config(setup.config_text, setup.config_source)
        progress = Progress(slots, self.base + 2)
        self.call = JobCall(setup, config, progress, slot, slots, self.base + GROUP)
        self.holder = Holder(self.call)
        self.job_logs = (
            JobLogCollector(setup.machine, setup.log_format) if setup.job_log_dir else None
        )
        self.row_format: RowFormat | None = None
        self.labels = BatchLabels()

    def send(self, message: object) -> None:
        # User code may log from its own threads: one message at a time.
        with self.send_lock:
            self.conn.send(message)

    def run_one(self, job_id: int, job_key: bytes, item: Any) -> Row:
        slots, base = self.slots, self.base
        slots[base + 2] = 0.0
        slots[base + 3] = 0.0
        slots[base + 1] = time.monotonic()
        slots[base] = job_id
        row = self.call(job_id, job_key, item)
        slots[base] = IDLE
        return row

    def run_batch(
        self, columns: tuple[str, ...] | None, batch: Sequence[BatchEntry], stop: Any
    ) -> None:
        if columns is not None and self.row_format is None:
            self.row_format = RowFormat(
                self.setup.machine, columns, self.setup.declared_columns, self.labels
            )
        self.labels.take(batch)
        rows: list[Row] = []
        began = last_send = time.perf_counter()
        for job_id, job_key, item, _ in batch:
            if stop.value:
                break
            rows.append(self.run_one_logged(job_id, job_key, item))
            now = time.perf_counter()
            if now - last_send >= SEND_INTERVAL:
                self.send_rows(rows, False, now - began)
                rows, began, last_send = [], now, now
        self.send_rows(rows, True, time.perf_counter() - began)

    def run_one_logged(self, job_id: int, job_key: bytes, item: Any) -> Row:
        if self.job_logs is None:
            return self.run_one(job_id, job_key, item)
        self.job_logs.lines.clear()
        row = self.run_one(job_id, job_key, item)
        if self.job_logs.lines:
            write_job_log(self.setup, job_id, self.job_logs.lines)
        return row

    def send_rows(self, rows: list[Row], done: bool, busy: float) -> None:
        if self.row_format is not None:
            line = self.row_format.line
            text = "".join([line(*row) for row in rows])
            failures = tuple((row[0], row[1]) for row in rows if row[1] != "ok")
            if self.row_format.refused:  # ok rows whose values could not be stored
                failures += tuple((job_id, "error") for job_id in self.row_format.refused)
                self.row_format.refused.clear()
            durations = sum(row[3] for row in rows)
            kinds = self.row_format.kinds.take()
            rows_sent = FormattedRows(text, len(rows), failures, durations, kinds)
            self.send(("text", rows_sent, done, busy))
            return
        self.send(("rows", [sealed(row) for row in rows], done, busy))


def _configure_logging(worker: _Worker) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(_PipeLogHandler(worker.send))
    root.setLevel(worker.setup.log_level)
    if worker.job_logs is not None:
        root.addHandler(worker.job_logs)


def worker_main(
    conn: Connection,
    setup: JobSetup,
    slots: MutableSequence[float],
    slot: int,
    stop: Any,
    parent: int,
    lifeline: Connection,
) -> None:
    """Runs in a worker process: serve batches until the parent sends None.

    The worker dies with its parent, at once (its keeper then kills what its
    task started): by a parent-death signal from process ``parent``, else
    when ``lifeline``, whose other end only the parent holds, closes.
    """
    if not die_with_parent(parent):
        exit_when_closed(lifeline)
    # The parent owns Ctrl-C and a closed terminal's SIGHUP: it decides whether
    # running jobs may finish, and a job stopped so is not recorded as crashed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    if setup.nice and hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(setup.nice)
    worker = _Worker(conn, setup, slots, slot)
    _configure_logging(worker)
    try:
        while (message := conn.recv()) is not None:
            columns, batch, grant = message
            worker.holder.hold(grant)
            worker.run_batch(columns, batch, stop)
    except (EOFError, BrokenPipeError):
        pass  # The parent has gone; nothing is left to report to.
