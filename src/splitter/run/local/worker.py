"""The worker process: runs batches of jobs and sends back one row per job.

Runs in a worker process (started with the ``spawn`` method, also when
frozen). Protocol over the worker's own duplex pipe, strictly alternating so
neither side can block the other on a full pipe:

    parent -> worker   (columns, batch): the results' job columns once fixed
                       (else None) and a list of (job_id, item); None: "exit"
    worker -> parent   (kind, payload, batch_done, busy_seconds), any number
                       per batch, the last one with batch_done=True: kind
                       "rows" carries Row tuples, "text" a FormattedRows (the
                       rows as CSV lines: the parent only appends them)
                       ("log", record_dict) for every log record

A pipe per worker (not one shared queue) means a worker killed mid-write can
only damage its own pipe, which the parent then discards with the worker.

Shared memory holds one slot per worker: (job_id, started, progress value,
progress base, process group). The parent reads it to know which job a dead
worker was running, to enforce timeouts and to draw progress, without any
message; the process group (0: none) is the one a job's own children run in
(shell tasks), which the parent kills with the job.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Callable, MutableSequence, Sequence
from multiprocessing.connection import Connection
from typing import Any

from splitter.campaign.config import parse_config
from splitter.run.engine import FormattedRows, JobSetup, Row
from splitter.run.injection import JobContext, JobFailed, JobRandom, Progress, injected_names
from splitter.store.logfile import UtcFormatter
from splitter.store.rowformat import RowFormat

__all__ = ["GROUP", "IDLE", "SLOT_WIDTH", "one_line", "worker_main"]

SLOT_WIDTH = 5
GROUP = 4
"""Offset in a slot of the process group of the job's children (0: none)."""
IDLE = -1.0
# A worker sends the rows of a long batch at least this often, so results of
# slow jobs reach the file (and survive a crash) without waiting for the batch.
SEND_INTERVAL = 0.25


def one_line(exc: BaseException) -> str:
    """``ValueError: bad alpha`` on one line, for the results' error column."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return " ".join(text.split())


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
            message = record.getMessage()
            if record.exc_info and not record.exc_text:
                record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
            data = dict(record.__dict__, msg=message, args=None, exc_info=None)
            self._send(("log", data))
        except Exception:
            self.handleError(record)


class _JobLogCollector(logging.Handler):
    """Collects what the current job logs, for its own file under jobs/."""

    def __init__(self, machine: str, log_format: str) -> None:
        super().__init__()
        self.machine = machine
        self.lines: list[str] = []
        self.setFormatter(UtcFormatter(log_format))

    def emit(self, record: logging.LogRecord) -> None:
        record.machine = self.machine
        self.lines.append(self.format(record))


class _Worker:
    """Runs in a worker process: the state kept across batches."""

    def __init__(
        self, conn: Connection, setup: JobSetup, slots: MutableSequence[float], slot: int
    ) -> None:
        self.conn = conn
        self.pid = os.getpid()
        self.setup = setup
        self.slots = slots
        self.slot = slot
        self.base = slot * SLOT_WIDTH
        self.send_lock = threading.Lock()
        self.config = parse_config(setup.config_text, setup.config_source)
        self.wanted = injected_names(setup.job)
        self.progress = Progress(slots, self.base + 2)
        self.job_logs = (
            _JobLogCollector(setup.machine, setup.log_format) if setup.job_log_dir else None
        )
        self.log = logging.getLogger("splitter.worker")
        self.row_format: RowFormat | None = None

    def send(self, message: object) -> None:
        # User code may log from its own threads: one message at a time.
        with self.send_lock:
            self.conn.send(message)

    def keywords(self, job_id: int) -> dict[str, Any]:
        wanted = self.wanted
        kwargs: dict[str, Any] = {}
        if "random_obj" in wanted:
            kwargs["random_obj"] = JobRandom(self.setup.run_seed, job_id)
        if "config" in wanted:
            kwargs["config"] = self.config
        if "progress" in wanted:
            kwargs["progress"] = self.progress
        if "job_context" in wanted:
            setup = self.setup
            kwargs["job_context"] = JobContext(
                job_id, setup.machine, self.slot, setup.folder, setup.run_seed,
                self.slots, self.base + GROUP,
            )  # fmt: skip
        return kwargs

    def run_one(self, job_id: int, item: Any) -> Row:
        slots, base = self.slots, self.base
        slots[base + 2] = 0.0
        slots[base + 3] = 0.0
        slots[base + 1] = time.monotonic()
        slots[base] = job_id
        start = time.time()
        began = time.perf_counter()
        try:
            kwargs = self.keywords(job_id) if self.wanted else {}
            if type(item) is tuple:
                value = self.setup.job(*item, **kwargs)
            else:
                value = self.setup.job(item, **kwargs)
            self.exit_if_forked()
            row: Row = (job_id, "ok", start, time.perf_counter() - began, "", value)
        except JobFailed as failed:
            self.exit_if_forked()
            duration = time.perf_counter() - began
            row = (job_id, failed.status, start, duration, failed.error, failed.value)
        except (Exception, SystemExit, KeyboardInterrupt) as exc:
            # SIGINT is ignored here, so a KeyboardInterrupt is the job's own raise.
            self.exit_if_forked()
            duration = time.perf_counter() - began
            self.log.error("job %d failed: %s", job_id, one_line(exc), exc_info=True)
            row = (job_id, "error", start, duration, one_line(exc), None)
        slots[base] = IDLE
        return row

    def exit_if_forked(self) -> None:
        """End a child the job forked that returned into our code: only the worker reports."""
        if os.getpid() != self.pid:
            os._exit(0)

    def run_batch(
        self, columns: tuple[str, ...] | None, batch: Sequence[tuple[int, Any]], stop: Any
    ) -> None:
        if columns is not None and self.row_format is None:
            self.row_format = RowFormat(self.setup.machine, columns, self.setup.declared_columns)
        rows: list[Row] = []
        began = last_send = time.perf_counter()
        for job_id, item in batch:
            if stop.value:
                break
            rows.append(self.run_one_logged(job_id, item))
            now = time.perf_counter()
            if now - last_send >= SEND_INTERVAL:
                self.send_rows(rows, False, now - began)
                rows, began, last_send = [], now, now
        self.send_rows(rows, True, time.perf_counter() - began)

    def run_one_logged(self, job_id: int, item: Any) -> Row:
        if self.job_logs is None:
            return self.run_one(job_id, item)
        self.job_logs.lines.clear()
        row = self.run_one(job_id, item)
        if self.job_logs.lines:
            _write_job_log(self.setup, job_id, self.job_logs.lines)
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
            self.send(("text", FormattedRows(text, len(rows), failures, durations), done, busy))
            return
        try:
            self.send(("rows", rows, done, busy))
        except (pickle.PicklingError, TypeError, AttributeError):
            self.send(("rows", [_picklable(row) for row in rows], done, busy))


def _picklable(row: Row) -> Row:
    """The row itself, or an error row when its value cannot travel to the parent."""
    try:
        pickle.dumps(row[5])
    except Exception as exc:
        reason = f"the job's result cannot be sent from its worker: {one_line(exc)}"
        return (row[0], "error", row[2], row[3], reason, None)
    return row


def _write_job_log(setup: JobSetup, job_id: int, lines: list[str]) -> None:
    import zstandard

    assert setup.job_log_dir is not None
    target = setup.job_log_dir / f"{job_id}.log.zst"
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    data = ("\n".join(lines) + "\n").encode("utf-8", "backslashreplace")
    compressor = zstandard.ZstdCompressor(level=setup.compression_level, write_checksum=True)
    temporary.write_bytes(compressor.compress(data))
    os.replace(temporary, target)


def _configure_logging(worker: _Worker) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(_PipeLogHandler(worker.send))
    root.setLevel(worker.setup.log_level)
    if worker.job_logs is not None:
        root.addHandler(worker.job_logs)


def worker_main(
    conn: Connection, setup: JobSetup, slots: MutableSequence[float], slot: int, stop: Any
) -> None:
    """Runs in a worker process: serve batches until the parent sends None."""
    # The parent owns Ctrl-C: it decides whether running jobs may finish.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if setup.nice and hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(setup.nice)
    worker = _Worker(conn, setup, slots, slot)
    _configure_logging(worker)
    try:
        while (message := conn.recv()) is not None:
            columns, batch = message
            worker.run_batch(columns, batch, stop)
    except (EOFError, BrokenPipeError):
        pass  # The parent has gone; nothing is left to report to.
