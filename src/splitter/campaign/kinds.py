"""The campaign's kinds of job, and how many of each kind each machine gets.

    needs= --needs_of--> JobKinds: the distinct Needs, and each job's kind
    JobKinds + the planned jobs in plan order + machines
        --fit_kinds--> per kind, how many jobs each machine gets
        --slices--> per kind, each machine's contiguous slice of that kind's jobs

Pure. Each kind's jobs, taken in plan order, are cut into one contiguous
slice per machine in machines.json order (an empty slice on a machine that
cannot hold the kind), so a new job of a kind lands at its own place in its
kind's order and moves only the slice boundaries, as in a campaign of one
kind. A campaign of one kind is its plan order cut once, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from splitter.campaign.fit import Kind, fit_kinds
from splitter.campaign.machines import Machine
from splitter.campaign.needs import Needs, NeedsSpec, needs_of

__all__ = ["PLAIN", "JobKinds", "Slices", "job_kinds", "kind_slices", "slice_owners"]

Slices = tuple[tuple[int, int], ...]
"""One machine's share: per kind, positions [start, stop) of that kind's jobs in plan order."""


@dataclass(frozen=True)
class JobKinds:
    """Every job's needs: the distinct Needs (first seen first) and each job's index among them.

    ``of_job`` is None when there is one kind: every job is of kind 0.
    """

    needs: tuple[Needs, ...] = (Needs(),)
    of_job: npt.NDArray[np.int32] | None = field(default=None, compare=False, repr=False)

    @property
    def plain(self) -> bool:
        """Every job needs one core and nothing else (what every job needed before needs)."""
        return self.needs == (Needs(),)

    def kind(self, job_id: int) -> int:
        """The kind of job ``job_id``."""
        return 0 if self.of_job is None else int(self.of_job[job_id])

    def of(self, job_ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int32]:
        """The kinds of ``job_ids``."""
        if self.of_job is None:
            return np.zeros(len(job_ids), dtype=np.int32)
        return self.of_job[job_ids]

    def canonical(self) -> object:
        """Every job's needs for the plan digest; None when every job is plain.

        The kinds' canonical forms and, with several kinds, the kind of every
        job as one int32 array: cheap for millions of jobs.
        """
        if self.plain:
            return None
        kinds = [needs.canonical() for needs in self.needs]
        return (kinds, None if self.of_job is None else self.of_job.astype("<i4"))


PLAIN = JobKinds()
"""Every job one core: the campaign without needs."""


def job_kinds(items: Sequence[object], needs: NeedsSpec) -> JobKinds:
    """The kinds of the pool ``items`` under ``needs=`` (see ``needs_of``)."""
    kinds, of_job = needs_of(items, needs)
    if not kinds:
        return PLAIN  # an empty pool: a needs function was never called
    return JobKinds(kinds, of_job if len(kinds) > 1 else None)


def kind_slices(
    kinds: JobKinds, jobs: npt.NDArray[np.int64], machines: Sequence[Machine]
) -> tuple[Slices, ...]:
    """Each machine's slice of each kind of ``jobs`` (the planned jobs, in plan order).

    How many jobs of a kind each machine gets is ``fit_kinds``'s (for one kind
    of one-core jobs, exactly the largest-remainder split by perf x cores); a
    kind no machine can hold is its ConfigError, naming one of its jobs.
    """
    fit = fit_kinds(_kinds_among(kinds, jobs), machines)
    slices: list[list[tuple[int, int]]] = [[] for _ in machines]
    for per_machine in fit.counts:
        stop = 0
        for machine, count in enumerate(per_machine):
            slices[machine].append((stop, stop + count))
            stop += count
    return tuple(tuple(share) for share in slices)


def slice_owners(
    kinds: JobKinds, jobs: npt.NDArray[np.int64], shares: Sequence[Slices]
) -> npt.NDArray[np.int64]:
    """The index of the share each of ``jobs`` (in plan order) falls into, aligned with them."""
    stops = np.array([[stop for _, stop in share] for share in shares], dtype=np.int64).T
    if kinds.of_job is None:
        return np.searchsorted(stops[0], np.arange(len(jobs)), side="right")
    of = kinds.of_job[jobs]
    # Each job's position among the jobs of its kind, in plan order.
    grouped = np.argsort(of, kind="stable")
    sizes = np.bincount(of, minlength=len(kinds.needs))
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    owner = np.empty(len(jobs), dtype=np.int64)
    for kind, (start, size) in enumerate(zip(starts.tolist(), sizes.tolist(), strict=True)):
        members = grouped[start : start + size]
        owner[members] = np.searchsorted(stops[kind], np.arange(size), side="right")
    return owner


def _kinds_among(kinds: JobKinds, jobs: npt.NDArray[np.int64]) -> list[Kind]:
    """The kinds with their counts among ``jobs`` and the lowest job id of each, for messages."""
    if kinds.of_job is None:
        return [Kind(kinds.needs[0], len(jobs), int(jobs.min()) if len(jobs) else 0)]
    of = kinds.of_job[jobs]
    counts = np.bincount(of, minlength=len(kinds.needs)).tolist()
    none = np.iinfo(np.int64).max
    firsts = np.full(len(kinds.needs), none, dtype=np.int64)
    np.minimum.at(firsts, of, jobs)
    return [
        Kind(needs, counts[k], int(firsts[k]) if counts[k] else 0)
        for k, needs in enumerate(kinds.needs)
    ]
