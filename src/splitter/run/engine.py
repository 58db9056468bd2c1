"""The engine seam: what the runner needs from whatever runs the jobs.

    runner --JobSetup, JobPool, job ids--> EngineFactory --> Engine
    runner <--step(): Row / FormattedRows (a lost worker's job: its crashed row)-- Engine
    runner <--running(): RunningJob-- Engine;  request_stop() / close() / kill()
    runner --pause(in_place) / resume() / set_workers(n)--> Engine   (the owner's wishes)

The runner owns the files, the tally, the display and the signals; an engine
owns only getting rows back for job ids. `splitter.run.local` is the engine
of this machine's process pool; the runner imports none of them and is handed
a factory by whoever chose the engine (the run command, `run_jobs`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from splitter.campaign.identity import JobKeys
    from splitter.campaign.kinds import JobKinds

__all__ = [
    "BatchEntry",
    "Engine",
    "EngineFactory",
    "FormattedRows",
    "JobHooks",
    "JobPool",
    "JobSetup",
    "LogLines",
    "LogSink",
    "Received",
    "Row",
    "RunningJob",
    "has_hooks",
    "host_hook",
    "lost_value",
]

Row = tuple[int, str, float, float, str, Any]
"""(job_id, status, start_time, duration, error, value): one job's outcome."""

BatchEntry = tuple[int, bytes, Any, "str | None"]
"""What a worker gets per job: (job_id, job key (16 bytes), item, input label or None).

The label is the job's input as text when a ``key=`` hook names the jobs
(``describe_input(key(item))``, made where the hook lives); None when the
item itself describes the job.
"""


@dataclass(frozen=True)
class FormattedRows:
    """Rows formatted where they ran: CSV text, how many, which failed, their summed durations.

    ``kinds``: the (column, kind) pairs these rows held first (see `splitter.store.celltypes`).
    """

    text: str
    count: int
    failures: tuple[tuple[int, str], ...]
    busy: float = 0.0
    kinds: tuple[tuple[str, str], ...] = ()


Received = list[Row | FormattedRows]
"""What one step brought back: rows to format, and rows already formatted."""

LogSink = Callable[[dict[str, Any]], None]
"""Takes a job's log record, as the dict of a `logging.LogRecord`."""


@dataclass(frozen=True)
class JobPool:
    """The campaign's jobs as engines take them: items, keys, ``key=`` and needs, by job id."""

    items: Sequence[Any]
    keys: JobKeys
    key: Callable[[Any], Any] | None = None
    kinds: JobKinds | None = None
    """Every job's needs: what it holds while it runs (None: one core each)."""

    def batch(self, job_ids: Sequence[int]) -> list[BatchEntry]:
        """The entries of ``job_ids`` to send to a worker."""
        from splitter.store.rowformat import describe_input

        items, key = self.items, self.key
        # All the batch's keys in one array operation: a key apiece costs microseconds.
        raw = self.keys.words[list(job_ids)].astype("<u8").tobytes()
        return [
            (job_id, raw[16 * n : 16 * n + 16], items[job_id],
             None if key is None else describe_input(key(items[job_id])))
            for n, job_id in enumerate(job_ids)
        ]  # fmt: skip

    def key_text(self, job_id: int) -> str:
        """Job ``job_id``'s key as 32 hex digits."""
        return self.keys.hex(job_id)

    def input(self, job_id: int) -> str:
        """Job ``job_id``'s input as text: its item, or ``key(item)`` with a hook."""
        from splitter.store.rowformat import describe_input

        item = self.items[job_id]
        return describe_input(item if self.key is None else self.key(item))


@dataclass(frozen=True)
class JobSetup:
    """Everything needed to run any job of the campaign, sent once to each worker (picklable)."""

    job: Callable[..., Any]
    machine: str
    campaign_seed: bytes
    config_text: str
    config_source: str
    log_level: int
    log_format: str
    declared_columns: tuple[str, ...]
    nice: int
    job_log_dir: Path | None
    compression_level: int
    folder: Path | None = None
    """The host folder the run writes (``OUT/<machine>/``): ``job_context.folder``."""
    plan_digest: bytes = b""
    machine_rank: int = 0
    """The machine's index in the plan's machines (0 for one not among them: ``--all``)."""


LogLines = list[tuple[int, str]]
"""(logging level, message) pairs, for the parent to log."""


@runtime_checkable
class JobHooks(Protocol):
    """What a job may also offer the engines (shell tasks do); a plain function offers none.

    Engines call ``host_start`` once on each host before its first job there and
    ``host_stop`` after its last (a task file's PERENGINE commands), and build
    the row of a job whose worker was lost from ``lost_value`` (its columns).
    """

    def host_start(self, setup: JobSetup) -> LogLines:
        """Run what comes before this host's first job; return what to log."""
        ...

    def host_stop(self, setup: JobSetup) -> LogLines:
        """Run what comes after this host's last job; return what to log."""
        ...

    def lost_value(self, item: Any, status: str, host: str, pid: int) -> Any:
        """The value of the row of ``item`` whose worker died (status crashed) or timed out.

        ``status`` is ``timeout``, ``crashed`` or ``returned`` (the job had ended);
        ``pid`` the job's own process group, 0 when unknown.
        """
        ...


def host_hook(setup: JobSetup, stage: str) -> LogLines:
    """Run the job's ``host_start`` (``stage`` "start") or ``host_stop`` where it has them."""
    job: object = setup.job
    if not isinstance(job, JobHooks):
        return []
    return job.host_start(setup) if stage == "start" else job.host_stop(setup)


def has_hooks(setup: JobSetup) -> bool:
    """Whether the campaign's job offers `JobHooks` (shell tasks do)."""
    job: object = setup.job
    return isinstance(job, JobHooks)


def lost_value(setup: JobSetup, item: Any, status: str, host: str, pid: int) -> Any:
    """The value of a lost job's row: the job's columns where it says them, else None."""
    job: object = setup.job
    if not isinstance(job, JobHooks):
        return None
    return job.lost_value(item, status, host, pid)


@dataclass(frozen=True)
class RunningJob:
    """A job running now: how long it has run and the progress it last reported."""

    job_id: int
    seconds: float
    progress: float
    base: float


class Engine(Protocol):
    """Runs job ids and hands their rows back, one `step` at a time.

    Every job id handed in comes back exactly once as a row, unless the run
    is stopped: `request_stop` lets running jobs finish and starts no more,
    `kill` stops at once. A job whose worker is lost comes back as a
    `crashed` (or `timeout`) row; the engine decides whether its other
    unreported jobs run elsewhere.
    """

    columns: tuple[str, ...] | None
    """The results' job columns once fixed (set by the runner): rows may then come formatted."""

    @property
    def stops_in_place(self) -> bool:
        """Whether `pause` can stop running jobs where they are (else they finish)."""
        ...

    @property
    def most_workers(self) -> int | None:
        """The most jobs `set_workers` may let run at once; None: this engine cannot change it."""
        ...

    @property
    def stopping(self) -> bool:
        """A stop was requested: no more jobs start."""
        ...

    @property
    def finished(self) -> bool:
        """No job is running and none will start."""
        ...

    def start(self) -> None:
        """Start the workers."""
        ...

    def step(self, timeout: float) -> Received:
        """Hand out work, wait up to ``timeout`` seconds, return the rows that came back."""
        ...

    def extend(self, job_ids: Sequence[int]) -> None:
        """Run ``job_ids`` too, after the jobs given so far (the next phase, after a barrier)."""
        ...

    def running(self) -> list[RunningJob]:
        """The jobs running now, longest running first."""
        ...

    def request_stop(self) -> None:
        """Start no more jobs; let the running ones finish."""
        ...

    def close(self) -> None:
        """Let the workers exit after a finished run."""
        ...

    def kill(self) -> None:
        """Stop every worker now; their unreported jobs stay unrecorded."""
        ...

    @property
    def paused_in_place(self) -> bool:
        """Running jobs are stopped in place now (they cannot finish until `resume`)."""
        ...

    def pause(self, in_place: bool) -> None:
        """Start no job until `resume`; ``in_place`` (if `stops_in_place`): stop running ones."""
        ...

    def resume(self) -> None:
        """Continue jobs stopped in place, and start jobs again."""
        ...

    def set_workers(self, count: int) -> None:
        """Let at most ``count`` jobs run at once, 1 to `most_workers` (not None)."""
        ...


class EngineFactory(Protocol):
    """Makes the engine for one run: the chosen engine with its own settings bound."""

    def __call__(
        self,
        setup: JobSetup,
        pool: JobPool,
        job_ids: Sequence[int],
        on_log: LogSink,
        job_timeout: float | None,
    ) -> Engine:
        """The engine that will run ``job_ids`` (indices into ``pool``)."""
        ...
