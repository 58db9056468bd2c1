"""The Dask engine: batches of jobs as Dask tasks; the cluster's workers pull them.

    job ids --batches sized from measured durations--> client.submit(run_batch)
        --> scheduler --> whichever worker is free (faster workers take more)
    rows <-- a batch's return value, and "rows" events while a long batch runs
    deaths <-- the scheduler's "remove-worker" event names the batches it was running

This host is the Dask client and keeps everything else: the files, the
progress, resume. A batch is a job list; each job's row comes back once
(a job whose row already came back, from an earlier attempt of its batch, is
not taken twice). When a worker dies running a batch of several jobs, their
unfinished jobs run again one per batch, so the next death names its job; a
job whose worker dies ``attempts`` times is recorded ``crashed``.

A pause (the workstation owner's) submits nothing more and takes back the
batches no worker has begun; batches running on the cluster finish, since
a Dask worker cannot be stopped in place without its scheduler taking it
for dead. The cluster's workers are its concurrency: `set_workers` is not
offered (``most_workers`` is None).
"""

from __future__ import annotations

import logging
import queue
import time
import uuid
from collections import Counter, deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from splitter.campaign.kinds import PLAIN
from splitter.errors import SplitterError, UsageError
from splitter.run.dask.cluster import Connection, DaskCluster
from splitter.run.dask.needs import counts_cores, dask_resources, unheld_kind
from splitter.run.dask.task import on_host, run_batch, unpack
from splitter.run.engine import (
    BatchEntry,
    JobPool,
    JobSetup,
    LogSink,
    Received,
    Row,
    RunningJob,
    has_hooks,
    lost_value,
)
from splitter.run.jobcall import one_line
from splitter.run.logs import FILE_ONLY
from splitter.run.sendable import split_sendable

__all__ = ["TARGET_BATCH_SECONDS", "DaskEngine", "batch_size"]

TARGET_BATCH_SECONDS = 0.5
# With kinds of job, a batch gathers jobs of the first waiting job's kind,
# looking this many times its size ahead among the others.
KIND_LOOKAHEAD = 4
# Towards the end batches shrink, but not below this: a task's round trip
# through the scheduler takes milliseconds, and a batch shorter than that
# leaves its worker waiting for the next.
MIN_BATCH_SECONDS = 0.05
MAX_GROWTH = 16

log = logging.getLogger("splitter.dask")
# Which worker ran which jobs: for the log file only (the console shows
# loggers named splitter*).
attribution = logging.getLogger("dask_workers")


def batch_size(
    seconds_per_job: float | None, previous: int, pending: int, threads: int, spread: float = 1.0
) -> int:
    """Jobs in the next batch: about TARGET_BATCH_SECONDS of work, smaller towards the end.

    Towards the end a batch is at most a quarter of what each worker thread
    has left (a worker holds a batch queued behind the one it runs), divided
    by ``spread`` (the slowest worker's seconds per job over the mean's), so
    the slowest worker's last batches end with the others' work.
    """
    if seconds_per_job is None:
        return 1
    per_job = max(seconds_per_job, 1e-7)
    wanted = int(TARGET_BATCH_SECONDS / per_job)
    share_of_rest = int(pending / (4 * max(threads, 1) * max(spread, 1.0)))
    floor = int(MIN_BATCH_SECONDS / per_job)
    return max(1, min(wanted, previous * MAX_GROWTH, max(share_of_rest, floor)))


def _moving_average(known: float | None, seconds: float) -> float:
    """Seconds per job, recent batches weighing most."""
    return seconds if known is None else 0.7 * known + 0.3 * seconds


class _Batch:
    """One submitted task: its jobs and what its events said."""

    def __init__(self, key: str, jobs: list[int], future: Any) -> None:
        self.key = key
        self.jobs = jobs
        self.future = future
        self.worker: str | None = None
        self.running: tuple[int, float, float, float, float] | None = None


class DaskEngine:
    """Runs job ids as Dask tasks; ``step()`` returns the rows that came back."""

    def __init__(
        self,
        cluster: DaskCluster,
        setup: JobSetup,
        pool: JobPool,
        job_ids: Sequence[int],
        on_log: LogSink,
        job_timeout: float | None,
    ) -> None:
        self._cluster = cluster
        self._setup = setup
        self._pool = pool
        self._kinds = pool.kinds or PLAIN
        self._cores = counts_cores(self._kinds.needs)
        self._pending: deque[int] = deque(job_ids)
        self._single: deque[int] = deque()
        self._outstanding = set(job_ids)
        self._batches: dict[str, _Batch] = {}
        self._deaths: Counter[int] = Counter()
        self._on_log = on_log
        self._job_timeout = job_timeout
        self._events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._run = uuid.uuid4().hex[:12]
        self._count = 0
        self._size = 1
        self._seconds_per_job: float | None = None
        self._worker_seconds: dict[str, float] = {}
        self._connection: Connection | None = None
        # Error rows of jobs whose item could not be sent, for the next step to return.
        self._refused: Received = []
        # Whether batches of one wait for their worker's messages first (see
        # task.SUSPECT_FLUSH_SECONDS): once a worker has died, or from the start
        # when one death must never be counted against the wrong job.
        self._careful = cluster.attempts == 1
        self._held = False
        self._host_started = False
        self.stopping = False
        self.columns: tuple[str, ...] | None = None
        self.stops_in_place = False
        self.most_workers: int | None = None
        self.paused_in_place = False

    @property
    def finished(self) -> bool:
        """No batch is in flight and none will be submitted."""
        return not self._batches and (self.stopping or not self._outstanding)

    def start(self) -> None:
        """Connect to the scheduler (or start the local cluster), listen, run host hooks' start."""
        self._connection = self._cluster.connect(self._setup, f"splitter-{self._run}", self._put)
        if not self._kinds.plain:
            self._check_resources(self._connection)
        if self._pending and has_hooks(self._setup):
            self._host_started = True
            self._on_each_host("start")

    def _check_resources(self, connection: Connection) -> None:
        """Refuse kinds no worker can hold: Dask would keep their tasks waiting forever."""
        workers = connection.resources()
        jobs = np.fromiter(self._pending, dtype=np.int64, count=len(self._pending))
        found, first = np.unique(self._kinds.of(jobs), return_index=True)
        kinds = [
            (self._kinds.needs[kind], int(jobs[at]))
            for kind, at in zip(found.tolist(), first.tolist(), strict=True)
        ]
        problem = unheld_kind(kinds, workers, self._cores) if workers else None
        if problem is not None:
            connection.close()
            raise UsageError(problem)

    def _on_each_host(self, stage: str) -> None:
        """A task file's PERENGINE commands, once on each host of the cluster (see `on_host`)."""
        assert self._connection is not None
        for host, lines in self._connection.on_each_host(on_host, stage):
            for level, message in lines:
                log.log(level, "%s on %s", message, host)

    def _put(self, kind: str, message: Any) -> None:
        self._events.put((kind, message))

    def extend(self, job_ids: Sequence[int]) -> None:
        """Run ``job_ids`` too, after every job given so far (the next phase after a barrier)."""
        self._pending.extend(job_ids)
        self._outstanding.update(job_ids)

    def step(self, timeout: float) -> Received:
        """Submit batches, wait up to ``timeout`` s for news, return the rows received."""
        assert self._connection is not None, "start() first"
        try:
            self._connection.check()
            self._submit()
            rows: Received = self._refused
            self._refused = []
            try:
                self._handle(*self._events.get(timeout=timeout), rows)
                while True:
                    self._handle(*self._events.get_nowait(), rows)
            except queue.Empty:
                pass
            return rows
        except SplitterError as exc:
            # The console gets the sentence from the command line; the log says it too.
            log.error("the run stops: %s", exc, extra=FILE_ONLY)
            self.kill()  # The runner stops on it: leave no batch running for nothing.
            raise

    def running(self) -> list[RunningJob]:
        """The jobs running now that have run long enough to report, longest first."""
        now = time.monotonic()
        found = [
            RunningJob(job, seconds + now - at, value, base)
            for batch in self._batches.values()
            if batch.running is not None
            for job, seconds, value, base, at in [batch.running]
            if job in self._outstanding
        ]
        return sorted(found, key=lambda job: -job.seconds)

    def request_stop(self) -> None:
        """Submit nothing more; batches not yet started are cancelled."""
        self.stopping = True
        for batch in list(self._batches.values()):
            if batch.worker is None:
                self._drop(batch)

    def pause(self, in_place: bool) -> None:
        """Submit nothing more; batches no worker has begun wait again (running ones finish)."""
        self._held = True
        for batch in list(self._batches.values()):
            if batch.worker is None:
                self._drop(batch)
                waiting = [job for job in batch.jobs if job in self._outstanding]
                if len(waiting) == 1:
                    self._single.appendleft(waiting[0])  # it may be a suspect: alone again
                else:
                    self._requeue(waiting)

    def resume(self) -> None:
        """Submit batches again."""
        self._held = False

    def set_workers(self, count: int) -> None:
        """Not offered: a Dask cluster's workers are its concurrency."""
        raise ValueError("a Dask run's concurrency is its cluster's workers")

    def close(self) -> None:
        """Run host hooks' stop; disconnect (and stop the local cluster if this run started it)."""
        if self._host_started and self._connection is not None:
            self._host_started = False
            if self._connection.client.status == "running":
                self._on_each_host("stop")
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def kill(self) -> None:
        """Cancel every batch and disconnect; their unreported jobs stay unrecorded."""
        for batch in list(self._batches.values()):
            self._drop(batch)
        self.close()

    def _submit(self) -> None:
        assert self._connection is not None
        wanted = 2 * max(self._connection.threads(), 1)
        while not self.stopping and not self._held and len(self._batches) < wanted:
            jobs = self._next_jobs()
            if not jobs:
                return
            self._count += 1
            key = f"splitter-batch-{self._run}-{self._count}"
            entries = self._pool.batch(jobs)
            try:
                future = self._send(key, entries)
            except Exception:  # Dask could not serialize the batch: which items?
                entries, refused = split_sendable(entries, by_value=True)
                if not refused:
                    raise
                self._refused.extend(refused)
                self._outstanding.difference_update(row[0] for row in refused)
                if not entries:
                    continue
                jobs = [entry[0] for entry in entries]
                future = self._send(key, entries)
            self._batches[key] = _Batch(key, jobs, future)

    def _send(self, key: str, entries: list[BatchEntry]) -> Any:
        """Submit a batch, holding the Dask resources one of its jobs needs (one kind each)."""
        assert self._connection is not None
        needs = self._kinds.needs[self._kinds.kind(entries[0][0])]
        asked = dask_resources(needs, self._cores)
        return self._connection.submit(
            run_batch, key, entries, self._job_timeout,
            None if self._kinds.plain else needs, self._careful,
            done=lambda _, key=key: self._put("done", key),
            **({"resources": asked} if asked else {}),
        )  # fmt: skip

    def _next_jobs(self) -> list[int]:
        """One suspect job alone, else the next batch of pending jobs."""
        while self._single:
            job = self._single.popleft()
            if job in self._outstanding:
                return [job]
        assert self._connection is not None
        size = batch_size(
            self._seconds_per_job, self._size, len(self._pending), self._connection.threads(),
            self._spread(),
        )  # fmt: skip
        jobs = self._take(size)
        if len(jobs) > 1 or self._seconds_per_job is not None:
            self._size = max(1, len(jobs))
        return jobs

    def _take(self, size: int) -> list[int]:
        """Up to ``size`` pending jobs, all of the first one's kind (others keep their places)."""
        jobs: list[int] = []
        if self._kinds.of_job is None:
            while self._pending and len(jobs) < size:
                job = self._pending.popleft()
                if job in self._outstanding:
                    jobs.append(job)
            return jobs
        kind, passed = -1, list[int]()
        while self._pending and len(jobs) < size and len(passed) < KIND_LOOKAHEAD * size:
            job = self._pending.popleft()
            if job not in self._outstanding:
                continue
            if kind < 0:
                kind = self._kinds.kind(job)
            (jobs if self._kinds.kind(job) == kind else passed).append(job)
        self._pending.extendleft(reversed(passed))
        return jobs

    def _handle(self, kind: str, message: Any, rows: Received) -> None:
        if kind == "done":
            self._finish(message, rows)
        elif kind == "lost":
            worker, keys = message
            for key in keys:
                batch = self._batches.get(key)
                if batch is not None and batch.worker == worker:
                    self._worker_died(batch, rows)
        else:
            self._event(message, rows)

    def _event(self, message: dict[str, Any], rows: Received) -> None:
        batch = self._batches.get(message["batch"])
        kind = message["kind"]
        if kind == "rows":
            self._accept(message["worker"], message["data"], rows)  # Even from an old attempt.
        elif batch is None:
            return
        elif kind == "begin":
            batch.worker = message["worker"]
            batch.running = None
        elif kind == "running":
            batch.running = (
                message["job"], message["seconds"], message["value"], message["base"],
                time.monotonic(),
            )  # fmt: skip
        elif kind == "timeout":
            self._timed_out(batch, message, rows)

    def _accept(self, worker: str, data: bytes, rows: Received) -> None:
        found, records = unpack(data)
        for record in records:
            self._on_log(record)
        taken = [row for row in found if row[0] in self._outstanding]
        if not taken:
            return
        self._outstanding.difference_update(row[0] for row in taken)
        rows.extend(taken)
        busy = sum(row[3] for row in taken)
        self._learn(busy / len(taken), worker)
        attribution.info("dask worker %s ran jobs %s", worker, ", ".join(str(r[0]) for r in taken))

    def _learn(self, seconds: float, worker: str) -> None:
        self._seconds_per_job = _moving_average(self._seconds_per_job, seconds)
        mine = _moving_average(self._worker_seconds.get(worker), seconds)
        self._worker_seconds[worker] = mine

    def _spread(self) -> float:
        """The slowest worker's seconds per job over the workers' mean (1: alike, or unknown)."""
        known = self._worker_seconds.values()
        if len(known) < 2:
            return 1.0
        return max(known) / (sum(known) / len(known))

    def _finish(self, key: str, rows: Received) -> None:
        batch = self._batches.pop(key, None)
        if batch is None:
            return  # Dropped already: cancelled, timed out or its worker died.
        status = batch.future.status
        if status == "finished":
            try:
                worker, data = batch.future.result()
            except OSError as exc:
                # The rows live on the worker until fetched; it (or the scheduler) went
                # away first. The jobs run again, or check() stops the run if the
                # scheduler is gone.
                log.warning("could not fetch a finished batch's rows (%s)", one_line(exc))
            else:
                self._accept(worker, data, rows)
        elif status == "error":
            self._failed(batch, batch.future.exception(), rows)
            return
        # Rows an event stream lost (or a cancelled attempt's) run again.
        self._requeue([job for job in batch.jobs if job in self._outstanding])

    def _failed(self, batch: _Batch, error: BaseException, rows: Received) -> None:
        if type(error).__name__ == "KilledWorker":
            # Dask gave up on the batch itself: treat it as one more death.
            self._batches[batch.key] = batch
            self._worker_died(batch, rows)
            if batch.key in self._batches:
                self._drop(batch)
                self._single.extendleft(j for j in batch.jobs if j in self._outstanding)
            return
        raise self._cluster.task_error(error)

    def _worker_died(self, batch: _Batch, rows: Received) -> None:
        self._careful = True
        unfinished = [job for job in batch.jobs if job in self._outstanding]
        if len(batch.jobs) > 1:
            log.warning(
                "dask worker %s was lost while running %d jobs; they run again, one per task",
                batch.worker, len(unfinished),
            )  # fmt: skip
            self._drop(batch)
            self._single.extend(unfinished)
            return
        batch.worker = None  # Dask runs it again; its next "begin" names the worker.
        for job in unfinished:
            self._deaths[job] += 1
            if self._deaths[job] >= self._cluster.attempts:
                self._drop(batch)
                rows.append(self._crashed_row(job))

    def _crashed_row(self, job: int) -> Row:
        self._outstanding.discard(job)
        times = self._deaths[job]
        error = f"worker process died {times} times while running this job (on a Dask worker)"
        log.warning("job %d crashed: %s", job, error)
        value = lost_value(self._setup, self._pool.items[job], "crashed", "", 0)
        return (job, "crashed", time.time(), 0.0, error, value)

    def _timed_out(self, batch: _Batch, message: dict[str, Any], rows: Received) -> None:
        job = message["job"]
        self._drop(batch)
        if job in self._outstanding:
            self._outstanding.discard(job)
            limit = f"{self._job_timeout:g}"
            error = f"job ran longer than job_timeout = {limit} s; its worker was stopped"
            log.warning("job %d timeout: %s", job, error)
            host = str(message.get("host", ""))
            value = lost_value(self._setup, self._pool.items[job], "timeout", host, 0)
            rows.append((job, "timeout", message["start"], message["seconds"], error, value))
        self._requeue([j for j in batch.jobs if j in self._outstanding])

    def _requeue(self, jobs: list[int]) -> None:
        self._pending.extendleft(reversed(jobs))

    def _drop(self, batch: _Batch) -> None:
        self._batches.pop(batch.key, None)
        batch.future.cancel()
