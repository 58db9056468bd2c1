"""A crash-proof process pool: one pipe per worker, a slot of shared memory each.

``multiprocessing.Pool`` hangs forever when a worker dies, and
``ProcessPoolExecutor`` fails every pending future and stops every worker,
throwing away hours of work of the jobs that were fine. This supervisor owns
its workers one by one, so a dying worker costs only its own job:

    pending job ids --batch--> worker pipe --> worker_main --rows--> step() -> caller
           ^                                      |
           |                             shared slot: (job, started, progress)
           +-- requeued: the dead worker's unreported jobs, all but the one it was running

A worker can also die between jobs: after a job returned, while its result is
logged, pickled or sent. Then the slot no longer names the job, so the dead
worker's unreported jobs are requeued to run one per batch; dying again, a
batch of one names its job, which is recorded ``crashed``. So every job costs
at most two worker deaths, never an endless respawn.

Batches grow from one job towards about ``TARGET_BATCH_SECONDS`` of work, from
the busy time workers report, and shrink towards the end so no worker idles
while another holds a long batch (guided self-scheduling).

For the workstation's owner: `pause` dispatches nothing more and, in place,
stops the running jobs with SIGSTOP (`freeze`); `resume` continues them; a
job's time towards ``job_timeout`` leaves the paused time out. `set_workers`
changes how many jobs run at once, up to ``most_workers``: fewer, and no job
starts until fewer run; more, and workers are started as jobs wait.

With needs, a batch holds its jobs' slots while it runs (`dispatch.JobQueue`:
what is free decides which batch starts), and goes to a worker started for
its binding (its cores and GPUs), a new one replacing an idle worker of
another binding if need be; a shell task whose process group outgrows the
memory it declared (``[run] enforce_mem``) is stopped like a timeout.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.reduction import ForkingPickler
from typing import TYPE_CHECKING, Any

from splitter.errors import SplitterError
from splitter.run.cpus import usable_cpus
from splitter.run.engine import (
    JobPool,
    JobSetup,
    LogSink,
    Received,
    Row,
    RunningJob,
    host_hook,
    lost_value,
)
from splitter.run.jobcall import opened
from splitter.run.local import freeze
from splitter.run.local.hold import Grant, spawn_environment
from splitter.run.local.worker import GROUP, IDLE, SLOT_WIDTH, worker_main
from splitter.run.mainguard import start_failure
from splitter.run.memguard import over_memory, size_words
from splitter.run.sendable import split_sendable

if TYPE_CHECKING:
    from splitter.run.local.dispatch import HostSlots, Taken

__all__ = ["LocalPool", "Supervisor", "WorkersFailedError"]

TARGET_BATCH_SECONDS = 0.1
# How often the memory of running shell tasks is read (each read scans /proc).
MEMORY_CHECK_SECONDS = 0.25
MAX_GROWTH = 16
# Workers that die before running anything point at a broken entry script,
# not at a job: give up instead of respawning forever.
MAX_FAILED_STARTS = 3
# How long the process groups of jobs' children (shell tasks) get to end after
# SIGTERM, when the run is stopped at once, before SIGKILL.
GROUP_GRACE_SECONDS = 2.0

log = logging.getLogger(__name__)


class WorkersFailedError(SplitterError):
    """Worker processes die as soon as they start."""


@dataclass(frozen=True)
class LocalPool:
    """The local engine's factory: ``workers`` processes on this machine, lending ``host``."""

    workers: int
    host: HostSlots | None = None
    """What this host lends to jobs with needs (None: ``workers`` cores, nothing else)."""

    def __call__(
        self,
        setup: JobSetup,
        pool: JobPool,
        job_ids: Sequence[int],
        on_log: LogSink,
        job_timeout: float | None,
    ) -> Supervisor:
        return Supervisor(setup, pool, job_ids, self.workers, on_log, job_timeout, self.host)


class _Handle:
    """The parent's view of one worker process."""

    def __init__(
        self, slot: int, process: SpawnProcess, conn: Connection, lifeline: Connection
    ) -> None:
        self.slot = slot
        self.process = process
        self.conn = conn
        self.lifeline = lifeline
        self.batch: list[int] | None = None
        self.taken: Taken | None = None
        self.grant: Grant | None = None
        self.reported = 0
        self.batch_size = 1
        self.heard_from = False


class Supervisor:
    """Runs job ids through worker processes; ``step()`` returns the rows that came back."""

    def __init__(
        self,
        setup: JobSetup,
        pool: JobPool,
        job_ids: Sequence[int],
        workers: int,
        on_log: LogSink,
        job_timeout: float | None = None,
        host: HostSlots | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._ctx: SpawnContext = multiprocessing.get_context("spawn")
        self._setup = setup
        self._pool = pool
        # Here, not above: a worker imports this package, and needs no NumPy.
        from splitter.campaign.kinds import PLAIN
        from splitter.run.local.allocator import HostCapacity
        from splitter.run.local.dispatch import HostSlots, JobQueue

        host = host or HostSlots(HostCapacity(workers), environ=dict(os.environ))
        kinds = pool.kinds or PLAIN
        # Shell tasks say so (run.shelltask is not loaded for a Python job's run).
        by_group = bool(getattr(setup.job, "MEMORY_OF_ITS_GROUP", False))
        self._pending = JobQueue(job_ids, kinds, host, by_group)
        self._workers = min(workers, max(1, len(self._pending)))
        self._limit = workers
        self.most_workers = max(workers, usable_cpus())
        """The most jobs `set_workers` may let run at once: this machine's CPUs (or more asked)."""
        self.stops_in_place = freeze.STOPS_IN_PLACE
        self._held = False
        self._frozen: dict[int, freeze.Frozen] = {}
        self._guard = freeze.Guard()
        self._pauses: list[list[float]] = []  # [start, end] of in-place pauses, monotonic
        # With needs, idle workers of other bindings may wait beside the running
        # ones (one more per kind and GPU), so a batch seldom waits for a start.
        spares = 0 if kinds.plain else len(host.capacity.gpus) + len(kinds.needs)
        self._processes = self.most_workers + spares
        self._job_timeout = job_timeout
        self._slots: Any = self._ctx.RawArray("d", self._processes * SLOT_WIDTH)
        self._stop: Any = self._ctx.RawValue("b", 0)
        self._handles: dict[int, _Handle] = {}
        self._seconds_per_job: float | None = None
        self._failed_starts = 0
        self._next_memory_check = 0.0
        self._memory_limits: dict[int, int] = {}
        # Jobs of a batch whose worker died between jobs: each runs alone next time.
        self._alone: set[int] = set()
        self._on_log = on_log
        self._host_started = False
        # Error rows of jobs whose item could not be sent, for the next step to return.
        self._refused: Received = []
        self.stopping = False
        # The results' job columns, once fixed: then workers format their own rows.
        self.columns: tuple[str, ...] | None = None

    @property
    def finished(self) -> bool:
        """No job is running and none will be dispatched."""
        busy = any(h.batch is not None for h in self._handles.values())
        return not busy and (self.stopping or not self._pending)

    def start(self) -> None:
        """Run the job's host hooks' start here (PERENGINE START), then start the workers.

        With needs, workers start as batches come (see `_dispatch`).
        """
        if self._pending:
            self._host_started = True
            _log_lines(host_hook(self._setup, "start"))
        if self._pending.plain:
            for slot in range(self._workers):
                self._spawn(slot, self._pending.grant(None, slot))

    def extend(self, job_ids: Sequence[int]) -> None:
        """Run ``job_ids`` too, after every job given so far (the next phase after a barrier)."""
        self._pending.add(job_ids)
        wanted = min(self._limit, len(self._pending))
        if self._pending.plain and wanted > self._workers and not self.stopping:
            for slot in range(self._workers, wanted):
                if slot not in self._handles:
                    self._spawn(slot, self._pending.grant(None, slot))
            self._workers = wanted

    def step(self, timeout: float) -> Received:
        """Dispatch to idle workers, wait up to ``timeout`` s, return the rows received."""
        self._dispatch()
        rows: Received = self._refused
        self._refused = []
        waitables: dict[Any, _Handle] = {}
        for handle in self._handles.values():
            waitables[handle.conn] = handle
            waitables[handle.process.sentinel] = handle
        for ready in multiprocessing.connection.wait(list(waitables), timeout):
            handle = waitables[ready]
            if self._handles.get(handle.slot) is not handle:
                continue  # Already replaced while handling its pipe.
            if ready is handle.conn:
                self._receive(handle, rows)
            else:
                self._bury(handle, rows, "crashed")
        self._enforce_timeout(rows)
        self._enforce_memory(rows)
        return rows

    def request_stop(self) -> None:
        """Dispatch nothing more; workers stop after the job they are running."""
        self.stopping = True
        self._stop.value = 1

    @property
    def paused_in_place(self) -> bool:
        """Some running jobs are stopped in place now."""
        return bool(self._frozen)

    def pause(self, in_place: bool) -> None:
        """Dispatch nothing more; ``in_place``: stop the running jobs too, else let them run."""
        self._held = True
        if not in_place:
            self._thaw()
            return
        if self._pauses and self._pauses[-1][1] == math.inf:
            return  # stopped in place already
        self._pauses.append([time.monotonic(), math.inf])
        for handle in self._handles.values():
            if handle.batch is not None and handle.process.pid is not None:
                self._frozen[handle.slot] = freeze.freeze(handle.process.pid, self._group(handle))
                self._guard.watch(self._frozen.values())

    def resume(self) -> None:
        """Continue the stopped jobs and dispatch again."""
        self._thaw()
        self._held = False

    def set_workers(self, count: int) -> None:
        """Let at most ``count`` jobs run at once (1 to ``most_workers``)."""
        if not 1 <= count <= self.most_workers:
            raise ValueError(f"workers must be from 1 to {self.most_workers}, not {count}")
        self._limit = count
        free = [slot for slot in range(self.most_workers) if slot not in self._handles]
        while len(self._handles) < count and free and self._pending and not self.stopping:
            if not self._pending.plain:
                return  # with needs, workers start as batches come
            slot = free.pop(0)
            self._spawn(slot, self._pending.grant(None, slot))

    def _thaw(self) -> None:
        for frozen in self._frozen.values():
            freeze.thaw(frozen)
        self._frozen.clear()
        self._guard.watch(())
        if self._pauses and self._pauses[-1][1] == math.inf:
            self._pauses[-1][1] = time.monotonic()

    def _unpaused(self, started: float, now: float) -> float:
        """Seconds from ``started`` to ``now`` less the time jobs were stopped in place."""
        paused = sum(max(0.0, min(end, now) - max(start, started)) for start, end in self._pauses)
        return now - started - paused

    def running(self) -> list[RunningJob]:
        """The jobs running now, longest running first."""
        found = [job for _, job in self._running()]
        return sorted(found, key=lambda job: -job.seconds)

    def _running(self) -> list[tuple[_Handle, RunningJob]]:
        """Each busy worker with the job its shared slot shows."""
        now = time.monotonic()
        found = []
        for handle in self._handles.values():
            base = handle.slot * SLOT_WIDTH
            job_id, started, value, total = self._slots[base : base + GROUP]
            if job_id != IDLE and handle.batch is not None:
                seconds = self._unpaused(started, now)
                found.append((handle, RunningJob(int(job_id), seconds, value, total)))
        return found

    def close(self) -> None:
        """Let idle workers exit; kill any that do not."""
        for handle in self._handles.values():
            with contextlib.suppress(OSError):
                handle.conn.send(None)
        deadline = time.monotonic() + 5
        for handle in self._handles.values():
            handle.process.join(max(0.0, deadline - time.monotonic()))
        self.kill()

    def kill(self) -> None:
        """Stop every worker now; their unreported jobs stay unrecorded.

        The process groups of jobs' children (shell tasks) get SIGTERM first.
        The workers are killed once those have ended, or after
        ``GROUP_GRACE_SECONDS``; then what is left of the groups gets SIGKILL
        (and each worker's keeper kills what its task started elsewhere).
        """
        self._stop.value = 1
        for frozen in self._frozen.values():
            freeze.end(frozen, signal.SIGTERM)  # stopped, they would not act on it
        self._frozen.clear()
        self._guard.close()
        groups = [g for g in map(self._group, self._handles.values()) if g]
        for group in groups:
            _signal_group(group, signal.SIGTERM)
        deadline = time.monotonic() + GROUP_GRACE_SECONDS
        while groups and time.monotonic() < deadline:
            groups = [group for group in groups if _signal_group(group, 0)]
            time.sleep(0.02)
        for handle in self._handles.values():
            if handle.process.is_alive():
                handle.process.kill()
            handle.process.join()
            handle.conn.close()
            handle.lifeline.close()
        self._handles.clear()
        for group in groups:
            _signal_group(group, signal.SIGKILL)
        if self._host_started:
            self._host_started = False
            _log_lines(host_hook(self._setup, "stop"))

    def _group(self, handle: _Handle) -> int:
        """The process group the worker's current job runs its children in (0: none)."""
        return int(self._slots[handle.slot * SLOT_WIDTH + GROUP])

    def _spawn(self, slot: int, grant: Grant) -> _Handle:
        """Start worker ``slot`` with ``grant``'s variables: libraries read them at load."""
        base = slot * SLOT_WIDTH
        self._slots[base : base + SLOT_WIDTH] = [IDLE, 0.0, 0.0, 0.0, 0.0]
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        # Nothing is written to it: the worker sees it close when this process dies.
        watched, lifeline = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(
            target=worker_main,
            args=(child_end, self._setup, self._slots, slot, self._stop, os.getpid(), watched),
            name=f"worker-{slot + 1}",
            daemon=True,
        )
        with spawn_environment(grant.resources.environment):
            process.start()
        child_end.close()
        watched.close()
        handle = self._handles[slot] = _Handle(slot, process, parent_end, lifeline)
        handle.grant = grant
        return handle

    def _dispatch(self) -> None:
        if self._held:
            return
        # The lowest worker numbers first: after `set_workers` (N) jobs see 0..N-1.
        idle = sorted((h for h in self._handles.values() if h.batch is None), key=_slot)
        busy = len(self._handles) - len(idle)
        # Plain jobs run in the workers started for them; with needs, as batches come.
        free = [] if self._pending.plain else self._free_slots()
        while (idle or free) and busy < self._limit and not self.stopping and self._pending:
            size = self._next_batch_size(idle[0] if idle else None)
            taken = self._pending.take(size, self._alone)
            if taken is None:
                return  # Nothing fits in what is free now.
            handle = self._worker_for(taken, idle, free)
            message, batch = self._message(taken.jobs, handle.grant)
            if not batch:
                self._pending.release(taken)
                idle.append(handle)
                continue  # no item of it could be sent: each is its job's error row
            try:
                handle.conn.send_bytes(message)
            except (BrokenPipeError, ConnectionResetError):
                self._pending.release(taken)
                self._pending.put_back(batch)
                continue  # Its sentinel reports the death on this step.
            handle.batch, handle.reported, handle.batch_size = batch, 0, size
            handle.taken = taken
            busy += 1

    def _free_slots(self) -> list[int]:
        return [slot for slot in range(self._processes) if slot not in self._handles]

    def _worker_for(self, taken: Taken, idle: list[_Handle], free: list[int]) -> _Handle:
        """An idle worker started for the batch's binding, else a new one in its stead."""

        def grant(slot: int) -> Grant:
            return self._pending.grant(taken.slots, slot)

        for handle in idle:
            if handle.grant is not None and handle.grant.binding == grant(handle.slot).binding:
                idle.remove(handle)
                handle.grant = grant(handle.slot)
                return handle
        if free:
            slot = free.pop(0)
        else:
            slot = idle.pop(0).slot
            self._retire(self._handles[slot])
        return self._spawn(slot, grant(slot))

    def _retire(self, handle: _Handle) -> None:
        """Let an idle worker exit (a worker of another binding takes its place)."""
        with contextlib.suppress(OSError):
            handle.conn.send(None)
        handle.process.join(5)
        if handle.process.is_alive():
            handle.process.kill()
            handle.process.join()
        handle.conn.close()
        handle.lifeline.close()
        del self._handles[handle.slot]

    def _message(self, batch: list[int], grant: Grant | None) -> tuple[bytes, list[int]]:
        """The batch's message as the worker reads it, and the jobs it holds.

        A job whose item does not pickle leaves the batch as an error row
        (see `splitter.run.sendable`): the run goes on without it.
        """
        entries = self._pool.batch(batch)
        try:
            return bytes(ForkingPickler.dumps((self.columns, entries, grant))), batch
        except Exception:  # pickling may raise anything; split_sendable says what
            kept, refused = split_sendable(entries)
            self._refused.extend(refused)
            if not kept:
                return b"", []
            message = ForkingPickler.dumps((self.columns, kept, grant))
            return bytes(message), [e[0] for e in kept]

    def _next_batch_size(self, handle: _Handle | None) -> int:
        share_of_rest = max(1, len(self._pending) // (2 * self._limit))
        if self._seconds_per_job is None:
            return 1
        wanted = int(TARGET_BATCH_SECONDS / max(self._seconds_per_job, 1e-7))
        grown = (handle.batch_size if handle is not None else 1) * MAX_GROWTH
        return max(1, min(wanted, grown, share_of_rest))

    def _receive(self, handle: _Handle, rows: Received) -> None:
        try:
            while handle.conn.poll():
                self._handle_message(handle, handle.conn.recv(), rows)
        except (EOFError, OSError):
            self._bury(handle, rows, "crashed")

    def _handle_message(self, handle: _Handle, message: Any, rows: Received) -> None:
        handle.heard_from = True
        self._failed_starts = 0
        if message[0] == "log":
            self._on_log(message[1])
            return
        kind, payload, done, busy = message
        if kind == "text":
            count = payload.count
            rows.append(payload)
        else:
            count = len(payload)
            rows.extend(map(opened, payload))
        handle.reported += count
        if count:
            self._learn_duration(busy / count)
        if done:
            assert handle.batch is not None
            # A stop request ends a batch early: its unrun jobs are not lost.
            self._end_batch(handle)
            self._pending.put_back(handle.batch[handle.reported :])
            handle.batch = None

    def _learn_duration(self, seconds: float) -> None:
        known = self._seconds_per_job
        self._seconds_per_job = seconds if known is None else 0.7 * known + 0.3 * seconds

    def _enforce_timeout(self, rows: Received) -> None:
        if self._job_timeout is None:
            return
        for handle, job in self._running():
            if job.seconds > self._job_timeout:
                # The worker first, so it cannot record its task's death as a crash.
                group = self._group(handle)
                handle.process.kill()
                _signal_group(group, signal.SIGKILL)
                self._bury(handle, rows, "timeout")

    def _enforce_memory(self, rows: Received) -> None:
        """Stop a shell task whose process group holds more memory than it declared."""
        now = time.monotonic()
        if now < self._next_memory_check:
            return
        self._next_memory_check = now + MEMORY_CHECK_SECONDS
        for handle, job in self._running():
            group, limit = self._group(handle), handle.grant.group_mem if handle.grant else 0
            if limit and group and over_memory(group, limit) is not None:
                self._memory_limits[job.job_id] = limit
                handle.process.kill()
                _signal_group(group, signal.SIGKILL)
                self._bury(handle, rows, "memory")

    def _end_batch(self, handle: _Handle) -> None:
        """The batch of ``handle`` is over: what it held is free."""
        if handle.taken is not None:
            self._pending.release(handle.taken)
            handle.taken = None

    def _bury(self, handle: _Handle, rows: Received, status: str) -> None:
        """Record a dead worker's job, requeue its other unreported jobs, replace it."""
        try:
            while handle.conn.poll():
                self._handle_message(handle, handle.conn.recv(), rows)
        except (EOFError, OSError):
            pass  # Everything it sent before dying has been read.
        handle.process.join(5)
        handle.conn.close()
        handle.lifeline.close()
        # A lost worker's job may leave children behind: they go with it.
        group = self._group(handle)
        _signal_group(group, signal.SIGKILL)
        frozen = self._frozen.pop(handle.slot, None)
        if frozen is not None:
            freeze.end(frozen, signal.SIGKILL)
            self._guard.watch(self._frozen.values())
        del self._handles[handle.slot]
        base = handle.slot * SLOT_WIDTH
        job_id, started = self._slots[base], self._slots[base + 1]
        unreported = handle.batch[handle.reported :] if handle.batch is not None else []
        exitcode = handle.process.exitcode
        if job_id != IDLE and int(job_id) in unreported:
            unreported.remove(int(job_id))
            rows.append(self._death_row(int(job_id), started, status, exitcode, group))
        elif started and len(unreported) == 1:
            # Alone in its batch, the job returned, then its worker died.
            rows.append(self._death_row(unreported.pop(), started, "returned", exitcode, 0))
        elif started and unreported:
            self._alone.update(unreported)
        elif not handle.heard_from:
            self._count_failed_start(exitcode)
        self._end_batch(handle)
        self._pending.put_back(unreported)
        if not self.stopping and self._pending and handle.grant is not None:
            self._spawn(handle.slot, handle.grant)

    def _count_failed_start(self, exitcode: int | None) -> None:
        self._failed_starts += 1
        if self._failed_starts >= MAX_FAILED_STARTS:
            raise WorkersFailedError(start_failure(exitcode))

    def _death_row(
        self, job_id: int, started: float, status: str, exitcode: int | None, group: int
    ) -> Row:
        seconds = time.monotonic() - started
        value = lost_value(
            self._setup, self._pool.items[job_id], status, socket.gethostname(), group
        )
        if status == "timeout":
            limit = f"{self._job_timeout:g}"
            error = f"job ran longer than job_timeout = {limit} s; its worker was stopped"
        elif status == "memory":
            status = "error"
            limit = size_words(self._memory_limits.pop(job_id))
            error = f"used more than its {limit}; its processes were stopped"
        elif status == "returned":
            status = "crashed"
            error = (
                f"worker process died ({_describe_exit(exitcode)}) after this job returned, "
                "before its result was sent (while logging, pickling or sending it)"
            )
        else:
            error = f"worker process died ({_describe_exit(exitcode)}) while running this job"
        log.warning("job %d %s: %s", job_id, status, error)
        return (job_id, status, time.time() - seconds, seconds, error, value)


def _slot(handle: _Handle) -> int:
    return handle.slot


def _log_lines(lines: list[tuple[int, str]]) -> None:
    for level, message in lines:
        log.log(level, "%s", message)


def _signal_group(group: int, signum: int) -> bool:
    """Send ``signum`` to process group ``group`` (0: none); whether it still exists."""
    if group <= 0:
        return False
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # No longer ours: the group has ended and its id was reused.
    return True


def _describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "exit code unknown"
    if exitcode < 0:
        name = signal.Signals(-exitcode).name if -exitcode in signal.valid_signals() else "?"
        hint = {
            "SIGKILL": "; the out-of-memory killer sends this",
            "SIGSEGV": "; a segmentation fault in native code",
        }.get(name, "")
        return f"signal {name}{hint}"
    return f"exit code {exitcode}; os._exit() or a fatal error in native code"
