"""Measure this host's per-thread rate on a fixed sample of the campaign's own jobs.

    plan order (the same on every host) --first SAMPLE_LIMIT--> sample
    sample --1 worker, S/2 seconds--> per-thread rate = jobs / summed durations
    sample --W workers, S/2 seconds--> rate under load x W --/ per-thread rate--> speed-up
    both phases' jobs / both phases' durations --> perf (4 significant digits)

Every host runs the same jobs in the same order (the plan order is a
seeded shuffle, so its start is a fair sample of the pool), a slower host
fewer of them; so the per-thread rates compare directly and become the
perf of machines.json. Rates use the jobs' own durations: worker start-up
is not speed. The perf pools both phases: W + 1 times the jobs of the first
alone (a heavy-tailed sample needs them), and the rate under load counts.
Nothing enters the campaign's results: rows are counted and dropped, and
the outcome goes to OUT/<machine>/calibration.json.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splitter.campaign.load import Campaign
from splitter.campaign.machinesfile import with_entry
from splitter.campaign.plan import all_jobs
from splitter.run.engine import EngineFactory, FormattedRows, JobSetup
from splitter.store.manifest import write_manifest, write_text_atomically
from splitter.store.outdir import CALIBRATION_NAME

__all__ = [
    "CALIBRATION_NAME",
    "SAMPLE_LIMIT",
    "Calibration",
    "Phase",
    "calibrate",
    "save_calibration",
    "update_machine_entry",
]

SAMPLE_LIMIT = 100_000
_DIGITS = 4


@dataclass(frozen=True)
class Phase:
    """One phase of a calibration: how many sample jobs ran, their summed durations, the wall."""

    workers: int
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
    one: Phase
    all: Phase

    @property
    def perf(self) -> float:
        """machines.json's perf: both phases' jobs over their durations, 4 significant digits."""
        busy = self.one.busy_seconds + self.all.busy_seconds
        rate = (self.one.jobs + self.all.jobs) / busy if busy > 0 else 0.0
        return float(f"{rate:.{_DIGITS}g}")

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
            "machine": self.machine, "cores": self.cores, "perf": self.perf,
            "per_thread_rate": self.one.per_thread_rate, "speedup": round(self.speedup, 4),
            "entry": list(self.entry),
            "phases": [phase.__dict__ for phase in (self.one, self.all)],
        }  # fmt: skip

    def lines(self) -> list[str]:
        """What `calibrate` prints."""
        one, every = self.one, self.all
        return [
            f"one worker: {one.jobs} sample jobs in {one.busy_seconds:.2f}s of work:"
            f" {one.per_thread_rate:.4g} jobs/s per thread",
            f"{every.workers} workers: {every.jobs} sample jobs, speed-up {self.speedup:.2f}x"
            f" over one worker",
            f"cores this process may use: {self.cores}",
            f'machines.json entry: "{self.machine}": [{self.perf!r}, {self.all.workers}]',
        ]


def calibrate(
    campaign: Campaign,
    job: Callable[..., Any],
    machine: str,
    *,
    seconds: float,
    workers: int,
    cores: int,
    pool: Callable[[int], EngineFactory],
) -> Calibration:
    """Run the sample on one worker, then on ``workers``, about ``seconds`` in all."""
    sample = all_jobs(campaign.plan)[:SAMPLE_LIMIT].tolist()
    setup = _setup(campaign, job, machine)
    one = _phase(campaign, setup, sample, pool(1), 1, seconds / 2)
    every = _phase(campaign, setup, sample, pool(workers), workers, seconds / 2)
    return Calibration(machine, cores, one, every)


def save_calibration(out: Path, calibration: Calibration) -> Path:
    """Write OUT/<machine>/calibration.json (write, then rename); return its path."""
    folder = out / calibration.machine
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CALIBRATION_NAME
    write_manifest(path, calibration.as_json())
    return path


def _setup(campaign: Campaign, job: Callable[..., Any], machine: str) -> JobSetup:
    settings = campaign.settings
    return JobSetup(
        job=job, machine=machine, run_seed=campaign.run_seed,
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
    """Run the sample from its start until ``budget`` seconds pass, then let running jobs end."""
    engine = factory(setup, campaign.items, sample, _drop, campaign.settings.job_timeout)
    jobs, busy = 0, 0.0
    began = time.monotonic()
    try:
        engine.start()
        while not engine.finished:
            for rows in engine.step(0.1):
                if isinstance(rows, FormattedRows):
                    jobs, busy = jobs + rows.count, busy + rows.busy
                else:
                    jobs, busy = jobs + 1, busy + rows[3]
            # At least one job, however long: a rate needs one.
            if jobs and time.monotonic() - began >= budget and not engine.stopping:
                engine.request_stop()
        engine.close()
    except BaseException:
        engine.kill()
        raise
    return Phase(workers, jobs, round(busy, 6), round(time.monotonic() - began, 6))


def _drop(record: dict[str, Any]) -> None:
    """Calibration keeps no log: its jobs are not the campaign's."""


def update_machine_entry(path: Path, name: str, perf: float, cores: int) -> None:
    """Set ``name``'s entry of the machines.json at ``path``: write, then rename."""
    text = path.read_text(encoding="utf-8-sig")
    write_text_atomically(path, with_entry(text, str(path), name, perf, cores))
