"""Which waiting job starts next on this host, and which cores, GPUs and counts it holds.

    machine's capacity + this host's CPUs and visible GPUs --host_capacity--> HostCapacity
    WaitingJobs (in plan order, grouped by needs) --Allocator.next_startable--> (job, Slots)
    a job's end --Allocator.release--> its slots are free again

Pure: no processes, no clock. Every count is a counting semaphore, as in
aitch: a job starts only when every count it needs is free, and it holds
specific core slots (for pinning) and specific GPU ids, never shared.

Smaller jobs fill gaps: when the first waiting job (the head) does not fit,
the first waiting job of another kind that fits starts instead. So that a
large job is never starved by a stream of small ones, the head lets at most
``patience`` jobs start ahead of it (by default as many as the host has
cores); after that it reserves what it needs as it comes free, and other
jobs may start only in what lies beyond that reservation. Since no job that
starts later takes what the head reserves, the head starts at the latest
when the jobs that were running when it began to reserve have ended.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from splitter.campaign.machines import Machine
from splitter.campaign.needs import Needs, describe_counts
from splitter.errors import ConfigError

__all__ = [
    "GPU_LIST_VARIABLES",
    "Allocator",
    "HostCapacity",
    "Slots",
    "WaitingJobs",
    "host_capacity",
]

# Where a host (or the batch system that placed this run) lists its GPUs, first found wins.
GPU_LIST_VARIABLES = ("CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES")


@dataclass(frozen=True)
class HostCapacity:
    """What this host lends to jobs: core slots, GPU ids, memory bytes and named counts.

    Core slot i runs on CPU ``cpus[i % len(cpus)]`` when jobs are pinned; a host
    may declare more cores than it has CPUs (slots then share CPUs).
    """

    cores: int
    gpus: tuple[str, ...] = ()
    mem: int = 0
    resources: tuple[tuple[str, int], ...] = ()
    cpus: tuple[int, ...] = ()

    def counts(self) -> dict[str, int]:
        """Every count the host lends: cores, gpus, mem and named counts."""
        return {
            "cores": self.cores,
            "gpus": len(self.gpus),
            "mem": self.mem,
            **dict(self.resources),
        }

    def holds(self, needs: Needs) -> bool:
        """Whether a job of ``needs`` fits this host when nothing else runs (tags aside)."""
        counts = self.counts()
        return all(counts.get(name, 0) >= need for name, need in needs.counts().items())


@dataclass(frozen=True)
class Slots:
    """What one running job holds: core slot numbers, GPU ids, memory and named counts."""

    cores: tuple[int, ...]
    gpus: tuple[str, ...] = ()
    mem: int = 0
    resources: tuple[tuple[str, int], ...] = ()

    def cpus(self, capacity: HostCapacity) -> tuple[int, ...]:
        """The CPU ids to pin the job to: those its core slots run on."""
        if not capacity.cpus:
            return ()
        return tuple(sorted({capacity.cpus[slot % len(capacity.cpus)] for slot in self.cores}))


def host_capacity(
    machine: Machine, cpus: Sequence[int], environ: Mapping[str, str]
) -> HostCapacity:
    """This host's capacity: the machine's declared counts, on its CPUs and visible GPUs.

    GPU ids are the first ``machine.gpus`` entries of the first of
    GPU_LIST_VARIABLES that is set (a batch system's choice), else 0, 1, ...
    A machine declaring more GPUs than such a list shows is a ConfigError.
    """
    gpus = tuple(str(index) for index in range(machine.gpus))
    variable = next((name for name in GPU_LIST_VARIABLES if name in environ), None)
    if variable is not None and machine.gpus:
        listed = [part.strip() for part in environ[variable].split(",") if part.strip()]
        if len(listed) < machine.gpus:
            raise ConfigError(
                f"machine {machine.name!r} declares {machine.gpus} GPUs, but {variable}="
                f"{environ[variable]!r} lets this host see {len(listed)}; declare "
                f'"gpus": {len(listed)} in machines.json, or run where {machine.gpus} are visible'
            )
        gpus = tuple(listed[: machine.gpus])
    return HostCapacity(machine.cores, gpus, machine.mem, machine.resources, tuple(sorted(cpus)))


class WaitingJobs:
    """Jobs waiting to start, in the order they were pushed, grouped by what they need."""

    def __init__(self) -> None:
        self._groups: dict[Needs, deque[tuple[int, int]]] = {}
        self._pushed = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def push(self, job: int, needs: Needs) -> None:
        """Queue ``job`` behind every job pushed before it."""
        self._groups.setdefault(needs, deque()).append((self._pushed, job))
        self._pushed += 1
        self._size += 1

    def heads(self) -> list[tuple[int, Needs]]:
        """The first waiting job of each kind of needs, the earliest pushed first."""
        firsts = sorted((group[0], needs) for needs, group in self._groups.items())
        return [(job, needs) for (_, job), needs in firsts]

    def pop(self, needs: Needs) -> int:
        """Take the first waiting job of ``needs`` off the queue."""
        group = self._groups[needs]
        _, job = group.popleft()
        if not group:
            del self._groups[needs]
        self._size -= 1
        return job


@dataclass
class _Free:
    """What is free now; ids in the order they are handed out (lowest first)."""

    cores: list[int]
    gpus: list[str]
    counts: dict[str, int] = field(default_factory=dict)


class Allocator:
    """Hands out this host's slots to jobs, smaller jobs filling gaps, no job starved."""

    def __init__(self, capacity: HostCapacity, patience: int | None = None) -> None:
        self.capacity = capacity
        self.patience = capacity.cores if patience is None else patience
        named = {"mem": capacity.mem, **dict(capacity.resources)}
        self._free = _Free(list(range(capacity.cores)), list(capacity.gpus), named)
        self._held: dict[int, Slots] = {}
        self._head: tuple[int, Needs] | None = None
        self._passed = 0

    @property
    def running(self) -> dict[int, Slots]:
        """The jobs holding slots now, and what each holds."""
        return dict(self._held)

    def try_start(self, job: int, needs: Needs) -> Slots | None:
        """Start ``job`` now if it fits in what is free and not reserved; None if not.

        Starting ahead of the queue's head counts against its patience, as in
        ``next_startable``.
        """
        self._check(job, needs)
        ahead = self._head is not None and self._head[0] != job
        slots = self._take(needs, self._reserved() if ahead else None)
        if slots is not None:
            self._hold(job, slots)
            self._passed += ahead
        return slots

    def next_startable(self, queue: WaitingJobs) -> tuple[int, Slots] | None:
        """Start the job that goes next, taking it off ``queue``; None if none can start now.

        The head of the queue if it fits, else the first job of another kind
        that fits in what the head leaves (see the module's docstring).
        """
        heads = queue.heads()
        if not heads:
            return None
        head, head_needs = heads[0]
        self._check(head, head_needs)
        if self._head is None or self._head[0] != head:
            self._head, self._passed = (head, head_needs), 0
        slots = self._take(head_needs, None)
        if slots is not None:
            self._hold(queue.pop(head_needs), slots)
            return head, slots
        reserved = self._reserved()
        for job, needs in heads[1:]:
            slots = self._take(needs, reserved)
            if slots is not None:
                self._hold(queue.pop(needs), slots)
                self._passed += 1
                return job, slots
        return None

    def release(self, job: int) -> Slots:
        """Free what ``job`` held; it has ended."""
        slots = self._held.pop(job)
        self._free.cores = sorted(self._free.cores + list(slots.cores))
        order = {gpu: index for index, gpu in enumerate(self.capacity.gpus)}
        self._free.gpus = sorted(self._free.gpus + list(slots.gpus), key=order.__getitem__)
        for name, count in (("mem", slots.mem), *slots.resources):
            self._free.counts[name] += count
        return slots

    def _reserved(self) -> Needs | None:
        """What the head holds back from other jobs: its needs, once its patience is spent."""
        if self._head is None or self._passed < self.patience:
            return None
        return self._head[1]

    def _check(self, job: int, needs: Needs) -> None:
        if not self.capacity.holds(needs):
            has = describe_counts(self.capacity.counts(), None)
            raise ConfigError(
                f"job {job} needs {needs.describe()}, more than this host has ({has}); "
                "run it on a machine that holds it"
            )

    def _take(self, needs: Needs, reserved: Needs | None) -> Slots | None:
        """The slots for ``needs`` from what is free beyond ``reserved``; None if short."""
        free = self._free
        wanted = needs.counts()
        kept = reserved.counts() if reserved is not None else {}
        available = {"cores": len(free.cores), "gpus": len(free.gpus), **free.counts}
        for name, need in wanted.items():
            have = available.get(name, 0)
            if have - min(have, kept.get(name, 0)) < need:
                return None
        cores, gpus = tuple(free.cores[: needs.cores]), tuple(free.gpus[: needs.gpus])
        return Slots(cores, gpus, needs.mem, needs.resources)

    def _hold(self, job: int, slots: Slots) -> None:
        free = self._free
        free.cores = free.cores[len(slots.cores) :]
        free.gpus = free.gpus[len(slots.gpus) :]
        for name, count in (("mem", slots.mem), *slots.resources):
            free.counts[name] -= count
        self._held[job] = slots
        if self._head is not None and self._head[0] == job:
            self._head = None
