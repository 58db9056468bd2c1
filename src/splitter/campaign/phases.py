"""Phases of a campaign: the runs of jobs between a task file's barriers.

    #DISBATCH BARRIER [CHECK] lines --phases_of_tasks--> Phases (each job's phase, the barriers)
    a merge's report of the phases --next_phase--> the phase the hosts may run now

A barrier means no job after it starts before every job before it has
ended; ``BARRIER CHECK`` also means the campaign stops there if any job
before it failed. Where one process sees every job (one machine, ``--all``,
``--dask``) the runner holds the barriers itself. In a static split a host
cannot wait for the others without a network, so the barriers are phase
boundaries: each host runs its share of a phase, and the next phase starts
with ``run --after M``, M the merge of the phase's folders. Pure: no files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Barrier", "PhaseCount", "Phases", "next_phase", "no_phases", "phases_of"]


@dataclass(frozen=True)
class Barrier:
    """A barrier of the campaign: it opens the phase after it; ``line`` of its task file."""

    line: int
    check: bool


@dataclass(frozen=True)
class Phases:
    """Each job's phase (how many barriers come before it), and the barriers in order."""

    of_job: npt.NDArray[np.int32]
    barriers: tuple[Barrier, ...] = ()

    @property
    def count(self) -> int:
        """The number of phases: one more than the barriers."""
        return len(self.barriers) + 1

    def checked(self, phase: int) -> bool:
        """Whether the barrier that opens ``phase`` is a BARRIER CHECK (phase 0: no barrier)."""
        return phase > 0 and self.barriers[phase - 1].check

    def canonical(self) -> tuple[object, ...]:
        """What the plan digest covers: each job's phase and which barriers check."""
        return (self.of_job, tuple(barrier.check for barrier in self.barriers))

    def jobs_by_phase(self, job_ids: Sequence[int]) -> list[list[int]]:
        """``job_ids`` split by phase, each in its given order, one list per phase."""
        split: list[list[int]] = [[] for _ in range(self.count)]
        of_job = self.of_job
        for job in job_ids:
            split[int(of_job[job])].append(job)
        return split


def no_phases(jobs: int) -> Phases:
    """The one phase of a campaign without barriers."""
    return Phases(np.zeros(jobs, dtype=np.int32))


def phases_of(phase_of_job: Sequence[int], barriers: Sequence[Barrier]) -> Phases:
    """Phases from each job's phase index and the barriers (e.g. a task file's)."""
    of_job = np.asarray(phase_of_job, dtype=np.int32)
    if len(of_job) and (of_job.min() < 0 or of_job.max() > len(barriers)):
        raise ValueError(f"phases run from 0 to {len(barriers)}, one per barrier and one more")
    return Phases(of_job, tuple(barriers))


@dataclass(frozen=True)
class PhaseCount:
    """One phase in a merge: its jobs, how many have a row, how many of those failed."""

    jobs: int
    done: int
    failed: int

    @property
    def complete(self) -> bool:
        """Every job of the phase has a row (ok or failed)."""
        return self.done == self.jobs


def next_phase(counts: Sequence[PhaseCount], checks: Sequence[bool]) -> int:
    """The last phase hosts may run after a merge with these ``counts`` (one per phase).

    Phase p may start once every phase before it is complete and, if the
    barrier opening it checks (``checks[p]``), none of their jobs failed.
    """
    allowed = 0
    failed = 0
    for phase in range(1, len(counts)):
        before = counts[phase - 1]
        failed += before.failed
        if not before.complete or (checks[phase] and failed):
            break
        allowed = phase
    return allowed
