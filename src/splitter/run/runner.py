"""Run one host's share: resume, dispatch, record, report.

    share ids --(skip keys recorded ok)--> Engine --rows--> ResultsWriter --> results.csv.zst
                                     |  \\--log records--> RunLogging ----> log.zst
                                     \\--running jobs--> ProgressDisplay --> console

The engine (`splitter.run.engine`) is whatever the caller chose: this
machine's process pool (`splitter.run.local`) or another; the runner only
drives the protocol.

The parent does O(1) work per job: it appends each row to an in-memory text
buffer and closes a zstd frame at least every ``flush_interval`` seconds, so
``kill -9`` loses at most that last second, which reruns on resume.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from splitter.campaign.digest import group_digest
from splitter.campaign.identity import JobKeys, parse_key_texts
from splitter.campaign.load import Campaign
from splitter.campaign.plan import owners
from splitter.run.barriers import Barriers
from splitter.run.display import ProgressDisplay
from splitter.run.engine import Engine, EngineFactory, FormattedRows, JobPool, JobSetup, Row
from splitter.run.logs import RunLogging
from splitter.run.owner.control import OwnerControl, earlier_intervals
from splitter.run.tally import RunSummary, Tally
from splitter.store.lock import FolderLock
from splitter.store.manifest import (
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    campaign_history,
    read_manifest,
    write_manifest,
)
from splitter.store.outdir import OutputFolder, prepare_output
from splitter.store.planfile import PlanRecord, read_plan_file, write_plan_file
from splitter.store.results import ResultsWriter, recorded_outcomes
from splitter.store.reuse import check_reusable, ok_rows
from splitter.store.runhistory import carried_runs, this_run
from splitter.store.shield import atomic, raise_or_defer
from splitter.store.typesfile import TYPES_NAME, read_types
from splitter.version import __version__

__all__ = ["RunOptions", "RunSummary", "run_share"]

STEP_SECONDS = 0.1
CHECKPOINT_SECONDS = 5.0
"""How often a running host rewrites its manifest's counts and rate, for `status`'s ETA."""

log = logging.getLogger("splitter.run")


@dataclass(frozen=True)
class RunOptions:
    """How to run a share here: where, with how many workers, what to rerun."""

    out: Path
    machine: str
    workers: int
    retry_failed: bool = False
    fresh: bool = False
    interactive: bool = False
    stream: IO[str] = sys.stderr
    manifest_extra: tuple[tuple[str, object], ...] = ()
    folder: str | None = None
    """The folder's name under ``out`` when it is not the machine's (a rescue's)."""
    stop_at_once: bool = False
    """Ctrl-C and SIGTERM stop at once (shell tasks: the signal reaches them), not softly."""
    reuse: tuple[Path, ...] = ()
    """Folders of the same splitter.ini whose ok rows this run copies instead of running."""
    max_failures: int | None = None
    """Stop the run (exit 1) once this many of its jobs have failed: ``--max-failures N``."""
    last_phase: int | None = None
    """In a static split of a campaign with barriers: the last phase this run may run
    (``run --after M``); None: every phase, the barriers held here."""


def run_share(
    campaign: Campaign,
    job: Callable[..., Any],
    share: Sequence[int] | npt.NDArray[np.int64],
    options: RunOptions,
    engine: EngineFactory,
) -> RunSummary:
    """Run the jobs of ``share`` (plan order) that have no recorded outcome yet, on ``engine``.

    The output folder is locked for the whole run: a second run on it refuses.
    """
    path = options.out / (options.folder or options.machine)
    for other in options.reuse:
        check_reusable(other, campaign.config_digest)
    with FolderLock(path) as lock:
        plan = campaign.plan
        folder = prepare_output(path, plan.digest, campaign.config_digest, fresh=options.fresh)
        if folder.moved_to is not None:
            lock.acquire()  # the lock moved aside with the old folder: lock the new one
        lock.sign()  # the folder is this run's now: a second run may learn who holds it
        return _run_in(folder, campaign, job, share, options, engine)


def _run_in(
    folder: OutputFolder,
    campaign: Campaign,
    job: Callable[..., Any],
    share: Sequence[int] | npt.NDArray[np.int64],
    options: RunOptions,
    engine: EngineFactory,
) -> RunSummary:
    started = time.time()
    # A run killed before its first flush leaves a manifest but no results yet.
    resumable = folder.resumed and folder.results.exists()
    outcomes = recorded_outcomes(folder.results) if resumable else {}
    share_ids: list[int] = np.asarray(share).tolist()
    statuses: list[str | None] = [None] * len(share_ids)  # a new folder: nothing recorded
    if outcomes:
        statuses = [outcomes.get(key) for key in campaign.keys.hex_of(share)]
    todo = [j for j, status in zip(share_ids, statuses, strict=True) if _wanted(status, options)]
    tally = Tally.from_statuses(statuses, options.retry_failed)
    barriers = _barriers(campaign, share_ids, statuses, todo, options)
    earlier = read_plan_file(folder.path) if folder.resumed else None
    reuse = _reuse_line(campaign, folder, outcomes, tally, todo, earlier)
    _record_plan(campaign, folder, earlier)
    earlier_pauses = earlier_intervals(folder.path) if folder.resumed else []
    owner = OwnerControl(folder.path, campaign.settings.owner, options.workers, earlier_pauses)
    manifest = _Manifest(campaign, options, folder, len(share), started, owner)
    manifest.write(tally, "running")
    try:
        return _run(
            campaign, job, todo, options, engine, folder, tally, manifest, started, reuse,
            barriers,
        )  # fmt: skip
    except BaseException:
        # A full disk, a broken pool, a bug: the manifest must not say `running`.
        with contextlib.suppress(OSError):
            manifest.write(tally, "interrupted")
        raise


def _run(
    campaign: Campaign,
    job: Callable[..., Any],
    todo: list[int],
    options: RunOptions,
    engine: EngineFactory,
    folder: OutputFolder,
    tally: Tally,
    manifest: _Manifest,
    started: float,
    reuse: str | None = None,
    barriers: Barriers | None = None,
) -> RunSummary:
    """Log, record and display the run of ``todo`` on ``engine``; the manifest says how it went."""
    settings, share = campaign.settings, tally.share
    pool = JobPool(campaign.items, campaign.keys, campaign.key, campaign.kinds)
    with (
        RunLogging(
            folder.path, options.machine, settings, options.stream, bars=options.interactive
        ) as logs,
        ResultsWriter(folder.results, options.machine, settings.columns, pool,
                      settings.compression_level) as writer,
    ):  # fmt: skip
        _log_start(campaign, options, folder, share, len(todo))
        if reuse is not None:
            log.info("%s", reuse)
        if options.reuse:
            copied = _copy_reused(campaign, options.reuse, folder.path, todo, writer)
            tally.reuse(len(copied))
            todo = [job for job in todo if job not in copied]
            if barriers is not None:
                barriers = barriers.without(copied)
        first = todo if barriers is None else barriers.first()
        display = ProgressDisplay(
            options.machine, share, share - len(todo),
            interactive=options.interactive, interval=settings.progress_interval,
            stream=options.stream,
        )  # fmt: skip
        jobs = engine(
            _job_setup(campaign, job, folder, options), pool, first,
            logs.handle_worker_record, settings.job_timeout,
        )  # fmt: skip

        fail_fast = FailFast(options.max_failures)

        def checkpoint() -> None:
            manifest.write(tally, "running", display.rate())

        interrupted = _drive(
            jobs,
            writer,
            logs,
            display,
            tally,
            settings.flush_interval,
            checkpoint,
            options.stop_at_once,
            fail_fast,
            manifest.owner,
            barriers,
        )
        display.close()
        logs.report_repeats()
        stopped = fail_fast.reason or (barriers.reason if barriers is not None else None)
        summary = tally.summary(
            options.machine, folder.path, interrupted and not fail_fast.tripped,
            time.time() - started, stopped, _waiting(barriers, interrupted or bool(stopped)),
        )  # fmt: skip
        log.info("%s", summary.line())
        if summary.waiting:
            log.info("%s", summary.waiting)
    manifest.write(tally, summary.state, display.rate())
    return summary


def _wanted(status: str | None, options: RunOptions) -> bool:
    return status is None or (options.retry_failed and status != "ok")


def _reuse_line(
    campaign: Campaign,
    folder: OutputFolder,
    outcomes: dict[str, str],
    tally: Tally,
    todo: list[int],
    earlier: PlanRecord | None,
) -> str | None:
    """For a folder of an earlier plan: what it lends this one, in one line."""
    if folder.earlier_plan is None:
        return None
    found = campaign.keys.find(parse_key_texts(list(outcomes))[0])
    gone = int(np.count_nonzero(found < 0))
    elsewhere = len(outcomes) - gone - tally.skipped
    moved = 0
    if earlier is not None and todo:
        moved = int(np.count_nonzero(JobKeys(earlier.keys).find(campaign.keys.words[todo]) >= 0))
    name = group_digest(bytes.fromhex(folder.earlier_plan[:16]))
    line = (
        f"reusing {tally.skipped:,} results of plan {name}; {len(todo) - moved:,} new jobs"
        + (f", {moved:,} of the earlier plan still to run here" if moved else "")
        + f"; {_jobs(gone)} no longer in the pool"
    )
    return line + (f", {_jobs(elsewhere)} now other machines'" if elsewhere else "")


def _copy_reused(
    campaign: Campaign,
    folders: tuple[Path, ...],
    own: Path,
    todo: list[int],
    writer: ResultsWriter,
) -> set[int]:
    """Copy the ok rows that ``folders`` hold of jobs in ``todo`` into this run's results."""
    wanted = dict(zip(campaign.keys.hex_of(todo), todo, strict=True))
    copied: set[int] = set()
    for other in folders:
        if other.resolve() == own.resolve():
            continue
        before = len(copied)
        writer.adopt_kinds(read_types(other / TYPES_NAME))
        for key, cells in ok_rows(other):
            job = wanted.pop(key, None)
            if job is not None and writer.add_copied(job, cells, str(other)):
                copied.add(job)
        log.info("reused %d results from %s", len(copied) - before, other)
    writer.flush()
    return copied


def _jobs(count: int) -> str:
    return f"{count:,} recorded job{'s are' if count != 1 else ' is'}"


def _record_plan(campaign: Campaign, folder: OutputFolder, recorded: PlanRecord | None) -> None:
    """Keep the campaign's whole plan beside the results, once per plan (see store.planfile).

    A rescue keeps the plan it rescues: its jobs' owners are the campaign's.
    """
    plan = campaign.plan.base or campaign.plan
    if recorded is not None and recorded.plan_digest == plan.digest.hex():
        return
    names = tuple(share.machine.name for share in plan.shares)
    phases = plan.phases
    record = PlanRecord(
        plan.digest.hex(), plan.pool_digest.hex(), names, campaign.keys.words, owners(plan),
        None if phases is None else phases.of_job.astype(np.uint16),
        () if phases is None else phases.barriers,
    )  # fmt: skip
    write_plan_file(folder.path, record)


def _drive(
    engine: Engine,
    writer: ResultsWriter,
    logs: RunLogging,
    display: ProgressDisplay,
    tally: Tally,
    flush_interval: float,
    checkpoint: Callable[[], None],
    stop_at_once: bool = False,
    fail_fast: FailFast | None = None,
    owner: OwnerControl | None = None,
    barriers: Barriers | None = None,
) -> bool:
    """The parent's loop; True when it was interrupted (or stopped by ``fail_fast``)."""
    next_flush = time.monotonic() + flush_interval
    next_checkpoint = time.monotonic() + CHECKPOINT_SECONDS
    stopped_hard = False
    with _interrupts(engine, stop_at_once):
        try:
            engine.start()
            while not engine.finished or (
                barriers is not None and not engine.stopping and barriers.advance(engine)
            ):
                if owner is not None and owner.poll(engine):  # the owner's pause, workers
                    display.set_pause(owner.paused.note() if owner.paused else None)
                    checkpoint()
                received = engine.step(min(STEP_SECONDS, max(0.0, next_flush - time.monotonic())))
                for rows in received:
                    if isinstance(rows, FormattedRows):
                        writer.add_text(rows.text, rows.count, rows.kinds)
                        failures = [status for _, status in rows.failures]
                        count, busy = rows.count, rows.busy
                    else:
                        status = writer.add(*rows)
                        failures = [] if status == "ok" else [status]
                        count, busy = 1, rows[3]
                    tally.add(count, failures, busy)
                    display.advance(count - len(failures), len(failures))
                    if barriers is not None and failures:
                        _count_failures(barriers, rows)
                    if fail_fast is not None and failures:
                        fail_fast.check(tally.failed_now, engine)
                engine.columns = writer.columns
                display.refresh(engine.running())
                if time.monotonic() >= next_flush:
                    _flush(writer, tally)
                    logs.flush()
                    next_flush = time.monotonic() + flush_interval
                    if next_flush >= next_checkpoint:
                        checkpoint()
                        next_checkpoint = time.monotonic() + CHECKPOINT_SECONDS
        except KeyboardInterrupt:
            stopped_hard = True
            engine.kill()
        except BaseException:
            engine.kill()  # A full disk, say: no worker may outlive the run.
            with contextlib.suppress(OSError):
                _flush(writer, tally)  # what finished before the failure counts once written
            raise
        else:
            engine.close()
        _flush(writer, tally)
    return stopped_hard or engine.stopping


def _count_failures(barriers: Barriers, rows: FormattedRows | Row) -> None:
    """Tell ``barriers`` which jobs of ``rows`` failed (a BARRIER CHECK stops after them)."""
    if isinstance(rows, FormattedRows):
        for job_id, _ in rows.failures:
            barriers.failed(job_id)
    else:
        barriers.failed(rows[0])


def _barriers(
    campaign: Campaign,
    share: list[int],
    statuses: list[str | None],
    todo: list[int],
    options: RunOptions,
) -> Barriers | None:
    """The run's phases, when its campaign has barriers (see `splitter.run.barriers`)."""
    phases = campaign.phases
    if phases.count == 1:
        return None
    recorded = [0] * phases.count
    for job, status in zip(share, statuses, strict=True):
        if status is not None and status != "ok" and not options.retry_failed:
            recorded[int(phases.of_job[job])] += 1
    return Barriers(phases, todo, recorded, options.last_phase)


def _waiting(barriers: Barriers | None, stopped: bool) -> str | None:
    """What to do next when this host's share of later phases waits for ``run --after``."""
    if barriers is None or not barriers.waiting or stopped:
        return None
    done, count = barriers.last + 1, barriers.phases.count
    return (
        f"phase {done} of {count} done here; {barriers.waiting} jobs of later phases wait:"
        " when every host has finished its share of it, merge their folders (merge ... --out"
        f" M) and start phase {done + 1} on every host with `run --after M`"
    )


def _flush(writer: ResultsWriter, tally: Tally) -> None:
    """Write the pending rows, then count them: the counts say what the file holds."""
    with atomic():  # a signal must not come between the rows and their count
        writer.flush()
        tally.written()


class FailFast:
    """``--max-failures N``: stop the run at its N-th failed job, as disBatch's --fail-fast.

    The engine stops at once; the jobs it was running stay unrecorded, so a
    resume runs them.
    """

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.reason: str | None = None

    @property
    def tripped(self) -> bool:
        """Whether the run was stopped for its failures."""
        return self.reason is not None

    def check(self, failed: int, engine: Engine) -> None:
        """Stop ``engine`` once ``failed`` jobs of this run have failed."""
        if self.limit is None or self.tripped or failed < self.limit:
            return
        self.reason = f"{failed} jobs failed (--max-failures {self.limit})"
        log.warning("stopping: %s; the running jobs stop and run again on resume", self.reason)
        engine.request_stop()
        engine.kill()


@contextlib.contextmanager
def _interrupts(engine: Engine, at_once: bool = False) -> Iterator[None]:
    """First Ctrl-C: finish running jobs, start no more. Second (or SIGTERM, SIGHUP): stop now.

    SIGHUP is a closed terminal or ssh session: no one is left to press Ctrl-C.

    ``at_once``: the first Ctrl-C stops now too (the engine's kill signals the
    jobs' process groups; their unfinished jobs stay unrecorded and rerun).
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # Signals reach only the main thread; a library caller handles them.
        return

    def on_interrupt(signum: int, frame: object) -> None:
        # Jobs stopped in place cannot finish: stop now, they rerun on resume.
        if at_once or engine.stopping or engine.paused_in_place or signum != signal.SIGINT:
            # Not in the middle of a frame write: its rows would be written twice.
            raise_or_defer(KeyboardInterrupt())
            return
        engine.request_stop()
        log.warning(
            "interrupted: letting the running jobs finish, starting no more; "
            "press Ctrl-C again to stop at once"
        )

    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, on_interrupt) for sig in stops}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Manifest:
    """manifest.json of a host folder, rewritten (write, then rename) at start and end."""

    def __init__(
        self,
        campaign: Campaign,
        options: RunOptions,
        folder: OutputFolder,
        share: int,
        t0: float,
        owner: OwnerControl,
    ) -> None:
        self.path = folder.path / MANIFEST_NAME
        self.owner = owner
        # The run's wall time counts from run_share's start, on a clock that never jumps.
        self.began = time.monotonic() - (time.time() - t0)
        self.t0 = t0
        self.earlier = carried_runs(read_manifest(folder.path) if folder.resumed else {})
        self.data: dict[str, object] = {
            "format": MANIFEST_FORMAT,
            "machine": options.machine,
            "digest": campaign.plan.digest.hex(),
            "plan_digest": campaign.plan.digest.hex(),
            "campaign_seed": campaign.campaign_seed.hex(),
            "pool_digest": campaign.pool_digest.hex(),
            "config_digest": campaign.config_digest.hex(),
            "total": campaign.plan.total,
            "share": share,
            "workers": options.workers,
            "started": _iso(t0),
            **campaign_history(
                _previous_manifest(folder),
                campaign.plan.digest.hex(),
                campaign.pool_digest.hex(),
                _iso(t0),
            ),
            "versions": {
                "splitter": __version__,
                "python": platform.python_version(),
                "numpy": np.__version__,
                "platform": platform.platform(),
                "frozen": bool(getattr(sys, "frozen", False)),
            },
            **dict(options.manifest_extra),
        }

    def write(self, tally: Tally, state: str, rate: float | None = None) -> None:
        """Rewrite it; this run's busy seconds, jobs and wall time are the observed capacity."""
        self.data.update(
            state=state, counts=tally.counts(), busy_seconds=round(tally.busy, 6),
            jobs_done=tally.ran, wall_seconds=round(time.monotonic() - self.began, 6),
            updated=time.time(),
        )  # fmt: skip
        if rate is not None:
            self.data["rate_jobs_per_s"] = round(rate, 6)
        self.data["ended"] = _iso(time.time()) if state != "running" else None
        self.data["runs"] = [*self.earlier, this_run(self.data, self.t0, time.time())]
        self.data.update(self.owner.fields(ended=state != "running"))
        write_manifest(self.path, self.data)


def _previous_manifest(folder: OutputFolder) -> dict[str, object]:
    return read_manifest(folder.path) if folder.resumed else {}


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _job_setup(
    campaign: Campaign, job: Callable[..., Any], folder: OutputFolder, options: RunOptions
) -> JobSetup:
    settings = campaign.settings
    # Absolute: a job may change the worker's working directory.
    job_log_dir = folder.path.absolute() / "jobs" if settings.per_job_logs else None
    if job_log_dir is not None:
        job_log_dir.mkdir(exist_ok=True)
    return JobSetup(
        job=job,
        machine=options.machine,
        campaign_seed=campaign.campaign_seed,
        config_text=campaign.config_text,
        config_source=campaign.config_source,
        log_level=settings.log_level,
        log_format=settings.log_format,
        declared_columns=settings.columns or (),
        nice=settings.nice,
        job_log_dir=job_log_dir,
        compression_level=settings.compression_level,
        folder=folder.path.resolve(),
        plan_digest=campaign.plan.digest,
        machine_rank=_machine_rank(campaign, options.machine),
    )


def _machine_rank(campaign: Campaign, machine: str) -> int:
    names = [entry.name for entry in campaign.machines]
    return names.index(machine) if machine in names else 0


def _log_start(
    campaign: Campaign, options: RunOptions, folder: OutputFolder, share: int, todo: int
) -> None:
    how = "resuming" if folder.resumed else "starting"
    log.info(
        "%s %s: share %d of %d jobs, %d to run, %d workers, digest %s, splitter %s, "
        "Python %s, NumPy %s, pid %d",
        how, options.machine, share, campaign.plan.size, todo, options.workers,
        campaign.plan.digest.hex(), __version__, platform.python_version(), np.__version__,
        os.getpid(),
    )  # fmt: skip
