"""Measure this host's throughput on a fixed sample of the campaign's own jobs.

    plan order (the same on every host) --first CALIBRATION_SAMPLE--> the sample
    sample, round after round --1 worker, S/2 seconds--> per-thread rate
    sample, round after round --W workers, S/2 seconds--> per-thread rate under load = perf
    (rate under load x W) / per-thread rate --> speed-up

Every host runs the same jobs: the first jobs of the plan order (a seeded
shuffle, so a fair sample of the pool), over and over in whole rounds, and
only whole rounds count. A slower host runs fewer rounds, never other jobs,
so its rate is the same work timed: the perfs compare exactly. (Timing
however many jobs fit in the seconds, a fast host's longer run draws other
jobs than a slow host's, and with heavy-tailed durations that alone skews
the weights by tens of percent.) Rates use the jobs' own durations: worker
start-up is not speed. perf is the rate with every worker busy, so perf x
cores is what the host really does when they all run (shared caches, memory
bandwidth and turbo limits included), not one worker's rate times W.
Nothing enters the campaign's results: rows are counted and dropped, and the
outcome goes to OUT/<machine>/calibration.json.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splitter.campaign.load import Campaign
from splitter.campaign.machines import check_machine_name
from splitter.campaign.machinesfile import with_entry
from splitter.campaign.plan import CALIBRATION_SAMPLE, all_jobs
from splitter.errors import ConfigError, UsageError
from splitter.run.engine import EngineFactory, FormattedRows, JobPool, JobSetup
from splitter.store.lock import locked_beside
from splitter.store.manifest import write_manifest, write_text_atomically
from splitter.store.outdir import CALIBRATION_NAME

__all__ = [
    "CALIBRATION_NAME",
    "Calibration",
    "Phase",
    "calibrate",
    "check_updatable",
    "save_calibration",
    "update_machine_entry",
]

# Rounds queued for a phase: it ends at the budget, or when they are done.
MAX_QUEUED_JOBS = 100_000
_DIGITS = 4


@dataclass(frozen=True)
class Phase:
    """One phase of a calibration: its whole rounds of the sample, their jobs and durations."""

    workers: int
    rounds: int
    jobs: int
    busy_seconds: float
    wall_seconds: float

    @property
    def per_thread_rate(self) -> float:
        """Jobs per second of one worker: jobs over their summed durations."""
        return self.jobs / self.busy_seconds if self.busy_seconds > 0 else 0.0


@dataclass(frozen=True)
class Calibration:
    """What `calibrate` measured, and the machines.json entry it gives."""

    machine: str
    cores: int
    sample: int
    one: Phase
    all: Phase

    @property
    def perf(self) -> float:
        """machines.json's perf: the per-thread rate with all workers busy, to 4 digits."""
        return float(f"{self.all.per_thread_rate:.{_DIGITS}g}")

    @property
    def entry(self) -> tuple[float, int]:
        """machines.json's [perf, cores]: cores as calibrated (--workers, else the CPUs here)."""
        return self.perf, self.all.workers

    @property
    def speedup(self) -> float:
        """How many times one worker's rate all workers reached together."""
        single = self.one.per_thread_rate
        return self.all.per_thread_rate * self.all.workers / single if single > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        """calibration.json's content."""
        return {
            "machine": self.machine, "cores": self.cores, "sample_jobs": self.sample,
            "perf": self.perf,
            "per_thread_rate": self.one.per_thread_rate, "speedup": round(self.speedup, 4),
            "entry": list(self.entry),
            "phases": [phase.__dict__ for phase in self._phases()],
        }  # fmt: skip

    def lines(self) -> list[str]:
        """What `calibrate` prints."""
        one, every = self.one, self.all
        loaded = [
            f"{every.workers} workers: {_rounds(every.rounds)}, {every.per_thread_rate:.4g} jobs/s"
            f" per thread, speed-up {self.speedup:.2f}x over one worker"
        ]
        return [
            f"sample: the first {self.sample} jobs of the plan order, the same on every host",
            f"one worker: {_rounds(one.rounds)} in {one.busy_seconds:.2f}s of work:"
            f" {one.per_thread_rate:.4g} jobs/s per thread",
            *(loaded if len(self._phases()) == 2 else []),
            f"cores this process may use: {self.cores}",
            f'machines.json entry: "{self.machine}": [{self.perf!r}, {self.all.workers}]',
        ]

    def _phases(self) -> tuple[Phase, ...]:
        """The phases measured: one, when a single worker is all this host runs."""
        return (self.one,) if self.all.workers == 1 else (self.one, self.all)


def _rounds(count: int) -> str:
    return f"{count} round{'s' if count != 1 else ''} of the sample"


def calibrate(
    campaign: Campaign,
    job: Callable[..., Any],
    machine: str,
    *,
    seconds: float,
    workers: int,
    cores: int,
    pool: Callable[[int], EngineFactory],
    sample_size: int = CALIBRATION_SAMPLE,
) -> Calibration:
    """Run the sample on one worker, then on ``workers``: about ``seconds`` in all.

    Each phase runs at least one whole round, however long that takes. With
    one worker there is one phase, of all the seconds.
    """
    sample = all_jobs(campaign.plan)[:sample_size].tolist()
    if not sample:
        raise UsageError("calibrate has no job to time: the campaign's pool is empty")
    setup = _setup(campaign, job, machine)
    if workers == 1:  # The two phases would be one measurement twice.
        only = _phase(campaign, setup, sample, pool(1), 1, seconds)
        return Calibration(machine, cores, len(sample), only, only)
    one = _phase(campaign, setup, sample, pool(1), 1, seconds / 2)
    every = _phase(campaign, setup, sample, pool(workers), workers, seconds / 2)
    return Calibration(machine, cores, len(sample), one, every)


def save_calibration(out: Path, calibration: Calibration) -> Path:
    """Write OUT/<machine>/calibration.json (write, then rename); return its path."""
    folder = out / check_machine_name(calibration.machine, "the calibration")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CALIBRATION_NAME
    write_manifest(path, calibration.as_json())
    return path


def _setup(campaign: Campaign, job: Callable[..., Any], machine: str) -> JobSetup:
    settings = campaign.settings
    return JobSetup(
        job=job, machine=machine, campaign_seed=campaign.campaign_seed,
        config_text=campaign.config_text, config_source=campaign.config_source,
        log_level=settings.log_level, log_format=settings.log_format,
        declared_columns=settings.columns or (), nice=settings.nice, job_log_dir=None,
        compression_level=settings.compression_level,
    )  # fmt: skip


def _phase(
    campaign: Campaign,
    setup: JobSetup,
    sample: list[int],
    factory: EngineFactory,
    workers: int,
    budget: float,
) -> Phase:
    """Run the sample round after round for ``budget`` seconds (at least one whole round).

    Running jobs end when the budget is spent; only whole rounds count: the
    first ``rounds`` durations of every sample job, in the order they came.
    """
    queued = sample * max(1, MAX_QUEUED_JOBS // len(sample))
    pool = JobPool(campaign.items, campaign.keys, campaign.key)
    engine = factory(setup, pool, queued, _drop, campaign.settings.job_timeout)
    durations: dict[int, list[float]] = {job: [] for job in sample}
    unseen = len(durations)
    began = time.monotonic()
    try:
        engine.start()
        while not engine.finished:
            for row in engine.step(0.1):
                # Calibration never fixes the header, so rows come back unformatted.
                assert not isinstance(row, FormattedRows)
                times = durations[row[0]]
                times.append(row[3])
                unseen -= len(times) == 1
            if not unseen and time.monotonic() - began >= budget and not engine.stopping:
                engine.request_stop()
        engine.close()
    except BaseException:
        engine.kill()
        raise
    rounds = min(len(times) for times in durations.values())
    busy = sum(sum(times[:rounds]) for times in durations.values())
    wall = time.monotonic() - began
    return Phase(workers, rounds, rounds * len(sample), round(busy, 6), round(wall, 6))


def _drop(record: dict[str, Any]) -> None:
    """Calibration keeps no log: its jobs are not the campaign's."""


def update_machine_entry(path: Path, name: str, perf: float, cores: int) -> None:
    """Set ``name``'s entry of the machines.json at ``path``: write, then rename.

    A symbolic link's target is updated (the link stays), keeping its
    permissions; the file is locked from read to rename, so two hosts updating
    one shared file at once both get their entry in.
    """
    target = Path(os.path.realpath(path))
    with _writable(path, target), locked_beside(target):
        text = target.read_text(encoding="utf-8-sig")
        write_text_atomically(target, with_entry(text, str(path), name, perf, cores))


def check_updatable(path: Path) -> None:
    """Refuse now, before measuring, a machines.json whose folder ``--update`` cannot write."""
    target = Path(os.path.realpath(path))
    with _writable(path, target), locked_beside(target):
        pass


@contextlib.contextmanager
def _writable(path: Path, target: Path) -> Iterator[None]:
    """Turn "cannot write in machines.json's folder" into one sentence with what to do."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        raise ConfigError(
            f"cannot update {path}: its folder {target.parent} is read-only here"
            f" ({exc.strerror}); add the machines.json entry this prints by hand, or run"
            " calibrate --update where that folder is writable"
        ) from None
