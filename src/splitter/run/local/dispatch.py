"""Which jobs an idle worker runs next, and what they hold: the local engine's queue.

    share (plan order) --JobQueue.take--> a batch of one kind + its slots
        --grant--> Grant: the job's resources, variables, CPUs to pin, memory limit
    a batch's end --release--> its slots are free;  unrun jobs --put_back--> the front

A campaign of plain jobs (one core each: no needs) is a plain queue: a batch
is the next jobs in order and a worker's core slot is its own number, so it
dispatches as fast as a campaign did before needs, and ``--workers N`` runs
N at once. With needs, the jobs wait largest kind first (`largest_first`),
each kind in plan order, and the `Allocator` decides on the machine's
declared capacity: a batch is the job it starts next and, behind it, the
next waiting jobs of the same kind, which run one after another in the same
slots, so what runs at once never exceeds a count and no two batches hold
one GPU.

Numerical libraries and CUDA read their variables once, when a process
loads them, so a worker keeps the variables it was started with: its
binding (how many cores, which GPUs). `Grant.binding` says which worker may
run a batch; the supervisor starts a worker for a binding none has.
"""

from __future__ import annotations

import dataclasses
import os
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from splitter.campaign.kinds import JobKinds
from splitter.campaign.machines import Machine
from splitter.campaign.needs import Needs, describe_counts
from splitter.errors import ConfigError
from splitter.run.injection import JobResources
from splitter.run.local.allocator import (
    GPU_LIST_VARIABLES,
    Allocator,
    HostCapacity,
    Slots,
    WaitingJobs,
    host_capacity,
)
from splitter.run.local.hold import Grant
from splitter.run.local.jobenv import job_environment

__all__ = ["HostSlots", "JobQueue", "Taken", "largest_first", "local_slots"]


@dataclass(frozen=True)
class HostSlots:
    """What this host lends to jobs, and how: its capacity, pinning, the memory guard."""

    capacity: HostCapacity
    pin_cores: bool = False
    enforce_mem: bool = False
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)
    """The run's own environment: a thread variable set there is the user's choice."""


@dataclass(frozen=True)
class Taken:
    """A batch taken off the queue: its jobs and, with needs, the slots they hold."""

    jobs: list[int]
    slots: Slots | None = None
    """None for plain jobs: each holds its worker's own core slot."""
    key: int = -1
    """The job the allocator holds the slots under (the batch's first, when taken)."""


def local_slots(
    machine: Machine | None,
    cores: int,
    kinds: JobKinds,
    share: npt.ArrayLike,
    settings: tuple[bool, bool] = (False, False),
    environ: Mapping[str, str] | None = None,
) -> HostSlots:
    """This host's slots: the machine's declared capacity, or (None) ``cores`` and what it sees.

    Without a machine (``--all``) the host lends ``cores`` cores, the GPUs a
    GPU list variable shows and its physical memory. A job of ``share`` that
    this host can never hold is a ConfigError naming it, before anything runs.
    ``settings`` is (pin_cores, enforce_mem).
    """
    environ = dict(os.environ) if environ is None else environ
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    listed = _listed_gpus(environ)
    if machine is None:
        machine = Machine("this host", 1.0, cores, len(listed or ()), _memory())
    elif kinds.plain and listed is not None:
        # Plain jobs hold no GPU: hide what the host shows, whatever it declares.
        machine = dataclasses.replace(machine, gpus=min(machine.gpus, len(listed)))
    capacity = host_capacity(machine, cpus, environ)
    if not kinds.plain:
        _refuse_unfit(capacity, kinds, share)
    return HostSlots(capacity, settings[0], settings[1], environ)


def _listed_gpus(environ: Mapping[str, str]) -> list[str] | None:
    """The GPUs the first GPU list variable set shows; None if none is set."""
    variable = next((name for name in GPU_LIST_VARIABLES if name in environ), None)
    if variable is None:
        return None
    return [part for part in environ[variable].split(",") if part.strip()]


def _memory() -> int:
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return 0


def _refuse_unfit(capacity: HostCapacity, kinds: JobKinds, share: npt.ArrayLike) -> None:
    jobs = np.asarray(share, dtype=np.int64)
    of = kinds.of(jobs)
    for index, needs in enumerate(kinds.needs):
        found = np.flatnonzero(of == index)
        if len(found) and not capacity.holds(needs):
            has = describe_counts(capacity.counts(), None)
            raise ConfigError(
                f"job {int(jobs[found[0]])} needs {needs.describe()}, more than this host has "
                f"({has}); run it with --machine naming a machine that holds it"
            )


def largest_first(kinds: Sequence[Needs], capacity: HostCapacity) -> list[int]:
    """The kinds in the order their jobs start here: the largest first, as in bin packing.

    A kind is as large as few of its jobs fit on this host at once in the count
    it is tightest on (a job of 2 of 2 GPUs: one; of 1 core of 16: sixteen), so
    the jobs that need the scarce counts start whenever those come free and
    smaller ones fill what they leave; kinds of one size in the order first seen.
    """
    has = capacity.counts()

    def at_once(kind: int) -> int:
        needs = kinds[kind].counts()
        return min(has.get(name, 0) // need for name, need in needs.items())

    return sorted(range(len(kinds)), key=at_once)


class JobQueue:
    """The share's waiting jobs and this host's free slots; see the module's docstring."""

    def __init__(
        self, job_ids: Sequence[int], kinds: JobKinds, host: HostSlots, by_group: bool = False
    ) -> None:
        """``by_group``: the jobs are shell tasks, whose memory is their process group's
        (watched by the parent), not their worker's."""
        self.kinds = kinds
        self.host = host
        self.by_group = by_group
        self.plain = kinds.plain
        self._jobs: deque[int] = deque(job_ids)
        self._waiting = WaitingJobs()
        self._allocator = Allocator(host.capacity)
        self._grants: dict[Slots, Grant] = {}
        if not self.plain:
            self._jobs.clear()
            self._wait(job_ids)

    def add(self, job_ids: Sequence[int]) -> None:
        """Queue ``job_ids`` after every job waiting now (a phase after a barrier)."""
        if self.plain:
            self._jobs.extend(job_ids)
        else:
            self._wait(job_ids)

    def _wait(self, job_ids: Sequence[int]) -> None:
        jobs = np.asarray(job_ids, dtype=np.int64)
        of = self.kinds.of(jobs)
        for kind in largest_first(self.kinds.needs, self.host.capacity):
            for job in jobs[of == kind].tolist():
                self._waiting.push(job, self.kinds.needs[kind])

    def __len__(self) -> int:
        return len(self._jobs) + len(self._waiting)

    def take(self, size: int, alone: set[int]) -> Taken | None:
        """The next batch of at most ``size`` jobs; None when nothing fits what is free now.

        A job of ``alone`` runs in a batch of its own (see the supervisor).
        """
        if self.plain:
            jobs = self._jobs
            count = 1 if jobs[0] in alone else min(size, len(jobs))
            return Taken([jobs.popleft() for _ in range(count)])
        started = self._allocator.next_startable(self._waiting)
        if started is None:
            return None
        job, slots = started
        batch = [job]
        needs = self._needs(job)
        while job not in alone and len(batch) < size:
            following = self._waiting.first(needs)
            if following is None or following in alone:
                break
            batch.append(self._waiting.pop(needs))
        return Taken(batch, slots, job)

    def put_back(self, jobs: Sequence[int]) -> None:
        """Queue ``jobs`` (unrun) ahead of every waiting job, in their order."""
        if self.plain:
            self._jobs.extendleft(reversed(jobs))
            return
        for job in reversed(jobs):
            self._waiting.push_front(job, self._needs(job))

    def release(self, taken: Taken) -> None:
        """The batch ``taken`` has ended: its slots are free again."""
        if taken.slots is not None:
            self._allocator.release(taken.key)

    def grant(self, held: Slots | None, worker: int) -> Grant:
        """What jobs holding ``held`` (None: plain jobs) hold, run by worker ``worker``."""
        slots = held if held is not None else Slots((worker,))
        found = self._grants.get(slots)
        if found is None:
            found = self._grants[slots] = self._make_grant(slots)
        return found

    def _make_grant(self, slots: Slots) -> Grant:
        host = self.host
        capacity = host.capacity
        cpus = slots.cpus(capacity)
        resources = JobResources(
            cores=len(slots.cores), gpus=slots.gpus, mem=slots.mem,
            named=dict(slots.resources), cpus=cpus,
            environment=job_environment(slots, capacity, host.environ),
        )  # fmt: skip
        limit = slots.mem if host.enforce_mem else 0
        return Grant(
            resources, cpus if host.pin_cores else (),
            0 if self.by_group else limit, limit if self.by_group else 0,
        )  # fmt: skip

    def _needs(self, job: int) -> Needs:
        return self.kinds.needs[self.kinds.kind(job)]
