"""Running one job where a worker runs it: injection, the call, its row, its log.

Runs in a worker process, of whichever engine: the local pool's workers
(`splitter.run.local.worker`) and Dask's (`splitter.run.dask.task`) both call
jobs through `JobCall`, so a job sees the same keywords and ends in the same
row wherever it ran.
"""

from __future__ import annotations

import configparser
import logging
import os
import pickle
import time
import traceback
from collections.abc import Callable, MutableSequence, Sequence
from typing import Any

from splitter.run.engine import BatchEntry, JobSetup, Row
from splitter.run.injection import (
    JobContext,
    JobFailed,
    JobRandom,
    JobResources,
    Progress,
    injected_names,
)
from splitter.run.memguard import address_space_limit, size_words
from splitter.store.rowformat import describe_input

__all__ = [
    "BatchLabels",
    "JobCall",
    "JobLogCollector",
    "one_line",
    "opened",
    "record_dict",
    "sealed",
    "write_job_log",
]


def one_line(exc: BaseException) -> str:
    """``ValueError: bad alpha`` on one line, for the results' error column."""
    try:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    except Exception:  # a user's exception whose __str__ raises
        text = f"{type(exc).__name__} (its message cannot be shown: its __str__ raises)"
    return " ".join(text.split())


class JobCall:
    """Calls the campaign's job on one item with the keywords it takes; returns its row.

    Runs in a worker process. A job that raises (or calls ``sys.exit``, or
    raises KeyboardInterrupt itself: workers ignore SIGINT) gives an ``error``
    row and its traceback in the log; a `JobFailed` gives the row it carries;
    the worker goes on. ``worker`` is the worker's index for ``job_context``;
    ``slots``/``group`` where a job's process group is shown to the parent;
    ``cancelled`` says whether the run has given the running job up.
    """

    def __init__(
        self,
        setup: JobSetup,
        config: configparser.ConfigParser,
        progress: Progress,
        worker: int = 0,
        slots: MutableSequence[float] | None = None,
        group: int = 0,
        cancelled: Callable[[], bool] | None = None,
    ) -> None:
        self.setup = setup
        self.cancelled = cancelled
        self.config = config
        self.progress = progress
        self.worker, self.slots, self.group = worker, slots, group
        self.pid = os.getpid()
        self.wanted = injected_names(setup.job)
        self.resources = JobResources()
        """What the jobs hold now (the engine sets it for each batch)."""
        self.mem_limit = 0
        """Bytes the jobs may use, enforced (0: none): a MemoryError then says so."""
        self.log = logging.getLogger("splitter.worker")

    def keywords(self, job_id: int, job_key: bytes) -> dict[str, Any]:
        """The injected keyword arguments of job ``job_id``, whose key is ``job_key``."""
        wanted = self.wanted
        kwargs: dict[str, Any] = {}
        if "random_obj" in wanted:
            kwargs["random_obj"] = JobRandom(self.setup.campaign_seed, job_key)
        if "config" in wanted:
            kwargs["config"] = self.config
        if "progress" in wanted:
            kwargs["progress"] = self.progress
        if "job_context" in wanted:
            setup = self.setup
            kwargs["job_context"] = JobContext(
                job_id, job_key, setup.machine, self.worker, setup.folder, setup.campaign_seed,
                self.slots, self.group, setup.plan_digest, setup.machine_rank, self.cancelled,
            )  # fmt: skip
        if "resources" in wanted:
            kwargs["resources"] = self.resources
        return kwargs

    def __call__(self, job_id: int, job_key: bytes, item: Any) -> Row:
        start = time.time()
        began = time.perf_counter()
        try:
            kwargs = self.keywords(job_id, job_key) if self.wanted else {}
            if self.mem_limit:
                value = self._guarded(item, kwargs)
            elif type(item) is tuple:
                value = self.setup.job(*item, **kwargs)
            else:
                value = self.setup.job(item, **kwargs)
            self.exit_if_forked()
            return (job_id, "ok", start, time.perf_counter() - began, "", value)
        except JobFailed as failed:
            self.exit_if_forked()
            duration = time.perf_counter() - began
            # Echoed like a job that raised (a task's exit code), without a traceback.
            self.log.error("job %d failed: %s", job_id, failed.error)
            return (job_id, failed.status, start, duration, failed.error, failed.value)
        except (Exception, SystemExit, KeyboardInterrupt) as exc:
            self.exit_if_forked()
            duration = time.perf_counter() - began
            error = one_line(exc)
            if isinstance(exc, MemoryError) and self.mem_limit:
                error = f"used more than its {size_words(self.mem_limit)} ({error})"
            self.log.error("job %d failed: %s", job_id, error, exc_info=True)
            return (job_id, "error", start, duration, error, None)

    def _guarded(self, item: Any, kwargs: dict[str, Any]) -> Any:
        """The job's call within ``mem_limit``, lifted before its error is handled."""
        with address_space_limit(self.mem_limit):
            if type(item) is tuple:
                return self.setup.job(*item, **kwargs)
            return self.setup.job(item, **kwargs)

    def exit_if_forked(self) -> None:
        """End a child the job forked that returned into our code: only the worker reports."""
        if os.getpid() != self.pid:
            os._exit(0)


class BatchLabels:
    """The key and input text of the jobs of the current batch, for the rows a worker formats.

    Runs in a worker process.
    """

    def __init__(self) -> None:
        self._entries: dict[int, BatchEntry] = {}

    def take(self, batch: Sequence[BatchEntry]) -> None:
        """Label the jobs of ``batch`` from now on (the previous batch's are forgotten)."""
        self._entries = {entry[0]: entry for entry in batch}

    def key_text(self, job_id: int) -> str:
        """The job's key, 32 hex digits."""
        return self._entries[job_id][1].hex()

    def input(self, job_id: int) -> str:
        """The job's input as text: the parent's label, else the item itself."""
        _, _, item, label = self._entries[job_id]
        return describe_input(item) if label is None else label


class JobLogCollector(logging.Handler):
    """Collects what the current job logs, for its own file under jobs/.

    ``thread``: only that thread's records (a Dask worker runs jobs in several).
    """

    def __init__(self, machine: str, log_format: str, thread: int | None = None) -> None:
        super().__init__()
        self.machine = machine
        self.thread = thread
        self.lines: list[str] = []
        # Here, not at the top: a worker without per-job logs needs no log file code.
        from splitter.store.logfile import UtcFormatter

        self.setFormatter(UtcFormatter(log_format))

    def emit(self, record: logging.LogRecord) -> None:
        if self.thread is not None and record.thread != self.thread:
            return
        record.machine = self.machine
        self.lines.append(self.format(record))


_NONE = pickle.dumps(None)


def sealed(row: Row) -> Row:
    """The row with its value pickled on its own, for the parent to unpickle (`opened`).

    Runs in a worker process. A value that does not pickle makes the row an
    error saying why; sealed, one that fails to unpickle in the parent costs
    only its own row, never the message that carries its batch.
    """
    job_id, status, start, duration, error, value = row
    try:
        data = pickle.dumps(value)
    except Exception as exc:
        reason = f"the job's result cannot be sent from its worker: {one_line(exc)}"
        logging.getLogger("splitter.worker").error("job %d failed: %s", job_id, reason)
        return (job_id, "error", start, duration, reason, _NONE)
    return (job_id, status, start, duration, error, data)


def opened(row: Row) -> Row:
    """A `sealed` row with its value unpickled; an error row saying why if it does not unpickle."""
    job_id, status, start, duration, error, data = row
    try:
        value = pickle.loads(data)
    except Exception as exc:
        reason = (
            "the job's result cannot be received from its worker: it does not unpickle here"
            f" ({one_line(exc)}); return plain values"
        )
        return (job_id, "error", start, duration, reason, None)
    return (job_id, status, start, duration, error, value)


def record_dict(record: logging.LogRecord) -> dict[str, Any]:
    """A log record as a plain dict that pickles: message formatted, traceback as text."""
    message = record.getMessage()
    if record.exc_info and not record.exc_text:
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
    return dict(record.__dict__, msg=message, args=None, exc_info=None)


def write_job_log(setup: JobSetup, job_id: int, lines: list[str]) -> None:
    """Write one job's log lines to ``jobs/<id>.log.zst`` (write, then rename)."""
    import zstandard

    assert setup.job_log_dir is not None
    target = setup.job_log_dir / f"{job_id}.log.zst"
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    data = ("\n".join(lines) + "\n").encode("utf-8", "backslashreplace")
    compressor = zstandard.ZstdCompressor(level=setup.compression_level, write_checksum=True)
    temporary.write_bytes(compressor.compress(data))
    os.replace(temporary, target)
