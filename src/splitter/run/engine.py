"""The engine seam: what the runner needs from whatever runs the jobs.

    runner --JobSetup, items, job ids--> EngineFactory --> Engine
    runner <--step(): Row / FormattedRows (a lost worker's job: its crashed row)-- Engine
    runner <--running(): RunningJob-- Engine;  request_stop() / close() / kill()

The runner owns the files, the tally, the display and the signals; an engine
owns only getting rows back for job ids. `splitter.run.local` is the engine
of this machine's process pool; the runner imports none of them and is handed
a factory by whoever chose the engine (the run command, `run_jobs`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "Engine",
    "EngineFactory",
    "FormattedRows",
    "JobHooks",
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


@dataclass(frozen=True)
class FormattedRows:
    """Rows formatted where they ran: CSV text, how many, which failed, their summed durations."""

    text: str
    count: int
    failures: tuple[tuple[int, str], ...]
    busy: float = 0.0


Received = list[Row | FormattedRows]
"""What one step brought back: rows to format, and rows already formatted."""

LogSink = Callable[[dict[str, Any]], None]
"""Takes a job's log record, as the dict of a `logging.LogRecord`."""


@dataclass(frozen=True)
class JobSetup:
    """Everything needed to run any job of the campaign, sent once to each worker (picklable)."""

    job: Callable[..., Any]
    machine: str
    run_seed: bytes
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


class EngineFactory(Protocol):
    """Makes the engine for one run: the chosen engine with its own settings bound."""

    def __call__(
        self,
        setup: JobSetup,
        items: Sequence[Any],
        job_ids: Sequence[int],
        on_log: LogSink,
        job_timeout: float | None,
    ) -> Engine:
        """The engine that will run ``job_ids`` (indices into ``items``)."""
        ...
