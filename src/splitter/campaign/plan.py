"""The plan: the campaign's job order, cut into one share per machine.

Pure and vectorised. A job's place in the order comes from a keyed 64-bit
mix of its job key (`splitter.campaign.identity`) under the campaign seed
alone, never from its index, the other jobs or the machines (and never from
random.shuffle or a NumPy Generator, whose streams may change between
versions); the split is a largest-remainder apportionment computed in exact
rational arithmetic, so every platform plans the same shares.

    campaign seed + job keys -> job_order: the jobs sorted by order key
    kinds of job + machines  -> how many jobs of each kind each machine gets
    both                     -> Plan: per kind, share i is positions [start, stop)
                                of that kind's jobs in the order

With one kind of job (every job one core: a campaign without needs) the
order is cut once, by largest remainder of perf x cores (`split_counts`);
with several, each kind's jobs in plan order are cut among the machines that
hold it (`splitter.campaign.kinds`). Adding k jobs inserts them at their own
places in the order, so each share boundary moves by at most about k
positions: at most about k x machines existing jobs change hands.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from splitter.campaign.canonical import tagged_digest
from splitter.campaign.digest import plan_digest, rescue_digest
from splitter.campaign.kinds import PLAIN, JobKinds, Slices, kind_slices, slice_owners
from splitter.campaign.machines import Machine
from splitter.campaign.mix import mix
from splitter.campaign.phases import Phases

__all__ = [
    "CALIBRATION_SAMPLE",
    "Plan",
    "Share",
    "all_jobs",
    "job_order",
    "make_plan",
    "make_rescue_plan",
    "order_keys",
    "owners",
    "share_jobs",
    "split_counts",
]

# calibrate's sample: the first this many jobs of the plan order, the same on
# every host (`calibrate --sample N` for another size).
CALIBRATION_SAMPLE = 16
_BLOCK = 1 << 16

Words = npt.NDArray[np.uint64]


@dataclass(frozen=True)
class Share:
    """One machine's share: per kind of job, positions [start, stop) of that kind's jobs.

    With one kind, ``slices`` is one range of the plan order itself.
    """

    machine: Machine
    slices: Slices

    @property
    def size(self) -> int:
        """The number of jobs in the share."""
        return sum(stop - start for start, stop in self.slices)


@dataclass(frozen=True)
class Plan:
    """Who runs what: the digest hosts compare and one share per machine, in order."""

    digest: bytes
    campaign_seed: bytes
    pool_digest: bytes
    total: int
    shares: tuple[Share, ...]
    order: npt.NDArray[np.int64] = field(compare=False, repr=False)
    """Every job id of the pool in plan order."""
    rescued: npt.NDArray[np.int64] | None = field(default=None, compare=False, repr=False)
    """For a rescue: the sorted job ids it plans, a subset of the pool; else None."""
    base: Plan | None = field(default=None, compare=False, repr=False)
    """For a rescue: the campaign's plan it rescues; else None."""
    kinds: JobKinds = field(default=PLAIN, compare=False, repr=False)
    """Every job's needs (their kinds, counted in the digest)."""
    phases: Phases | None = field(default=None, compare=False, repr=False)
    """The phases between a task file's barriers (counted in the digest); None: one phase."""
    owner: npt.NDArray[np.int64] | None = field(default=None, compare=False, repr=False)
    """With phases: each job's share index (-1 for a job not planned), phase by phase."""

    @property
    def size(self) -> int:
        """The number of jobs planned: the pool, or the rescued subset of it."""
        return self.total if self.rescued is None else len(self.rescued)

    def share_for(self, name: str) -> Share:
        """Return the share of the machine called ``name``; KeyError if there is none."""
        for share in self.shares:
            if share.machine.name == name:
                return share
        raise KeyError(name)


def order_keys(campaign_seed: bytes, keys: Words) -> Words:
    """Each job's 64-bit order key: a keyed mix of its job key ((count, 2) uint64) alone."""
    key_0, key_1 = _seed_keys(campaign_seed)
    out = keys[:, 0] ^ np.uint64(key_0)
    scratch = np.empty_like(out)
    mix(out, scratch)
    out ^= keys[:, 1]
    out ^= np.uint64(key_1)
    return mix(out, scratch)


def job_order(campaign_seed: bytes, keys: Words) -> npt.NDArray[np.int64]:
    """The plan order: the job ids of ``keys`` sorted by order key, ties by job key.

    One in-place sort of the order keys' top bits with the job id in the low
    bits (distinct integers, so the result does not depend on the sort
    algorithm); the rare runs of equal top bits are then put in order of their
    full order key and job key, so the order never depends on positions.
    """
    count = len(keys)
    bits = np.uint64(max(count - 1, 1).bit_length())
    packed = np.arange(count, dtype=np.int64).view(np.uint64)
    for start in range(0, count, _BLOCK):
        block = order_keys(campaign_seed, keys[start : start + _BLOCK])
        block >>= bits
        block <<= bits
        packed[start : start + len(block)] |= block
    packed.sort()
    top = packed >> bits
    ties = np.flatnonzero(top[1:] == top[:-1])
    packed &= (np.uint64(1) << bits) - np.uint64(1)
    order = packed.view(np.int64)
    if len(ties):
        _order_ties(order, ties, campaign_seed, keys)
    return order


def _order_ties(
    order: npt.NDArray[np.int64], ties: npt.NDArray[np.intp], seed: bytes, keys: Words
) -> None:
    """Reorder, in place, each run of positions whose order keys share their top bits."""
    inside = np.zeros(len(order), dtype=bool)
    inside[ties] = True
    inside[ties + 1] = True
    positions = np.flatnonzero(inside)
    run = np.cumsum(np.diff(positions, prepend=-2) != 1)
    members = order[positions]
    full = order_keys(seed, keys[members])
    ranked = np.lexsort((keys[members, 0], keys[members, 1], full, run))
    order[positions] = members[ranked]


def _seed_keys(campaign_seed: bytes) -> tuple[int, int]:
    key_0, key_1 = struct.unpack("<QQ", tagged_digest("splitter/order/v2", campaign_seed)[:16])
    return key_0, key_1


def split_counts(weights: Sequence[float], n: int) -> tuple[int, ...]:
    """Return how many of n jobs each weight gets, by largest remainder (Hamilton).

    Computed exactly on the floats' rational values, so every platform agrees.
    Each count is the floor or the ceiling of its quota n * w / sum(w); the
    leftover jobs go to the largest remainders, the earlier machine on a tie.
    """
    if n < 0:
        raise ValueError(f"n must be at least 0, got {n}")
    if not weights or not all(math.isfinite(w) and w > 0 for w in weights):
        raise ValueError(f"weights must be positive and finite, got {list(weights)}")
    exact = [Fraction(weight) for weight in weights]
    total = sum(exact)
    quotas = [n * weight / total for weight in exact]
    counts = [math.floor(quota) for quota in quotas]
    leftover = n - sum(counts)
    by_remainder = sorted(range(len(quotas)), key=lambda i: (counts[i] - quotas[i], i))
    for i in by_remainder[:leftover]:
        counts[i] += 1
    return tuple(counts)


def make_plan(
    campaign_seed: bytes,
    pool_digest: bytes,
    machines: Sequence[Machine],
    keys: Words,
    kinds: JobKinds = PLAIN,
    phases: Phases | None = None,
) -> Plan:
    """The plan of the pool of job keys ``keys``: contiguous shares in machines.json order.

    ``kinds`` are the jobs' needs; without them every job needs one core, and
    the digest is what it was before needs. With ``phases`` (barriers), each
    phase is split on its own, so every phase ends together on all machines.
    """
    phases = phases if phases is not None and phases.count > 1 else None
    digest = _phased_digest(
        plan_digest(campaign_seed, pool_digest, machines, kinds.canonical()), phases
    )
    order = job_order(campaign_seed, keys)
    shares, owner = _split(machines, kinds, phases, order, len(keys))
    return Plan(
        digest, campaign_seed, pool_digest, len(keys), shares, order, kinds=kinds,
        phases=phases, owner=owner,
    )  # fmt: skip


def _phased_digest(digest: bytes, phases: Phases | None) -> bytes:
    """The plan digest, covering each job's phase and the barriers' checks when there are any."""
    if phases is None:
        return digest
    return tagged_digest("splitter/plan-phases/v1", digest, *phases.canonical())


def _split(
    machines: Sequence[Machine],
    kinds: JobKinds,
    phases: Phases | None,
    jobs: npt.NDArray[np.int64],
    total: int,
) -> tuple[tuple[Share, ...], npt.NDArray[np.int64] | None]:
    """The shares of ``jobs`` (plan order), and with phases each job's share, phase by phase.

    A phased plan's shares count, per kind, a machine's jobs over every phase.
    """
    if phases is None:
        return _shares(machines, kinds, jobs), None
    owner = np.full(total, -1, dtype=np.int64)
    counts = np.zeros((len(machines), max(len(kinds.needs), 1)), dtype=np.int64)
    for phase in range(phases.count):
        members = jobs[phases.of_job[jobs] == phase]
        shares = _shares(machines, kinds, members)
        owner[members] = slice_owners(kinds, members, [share.slices for share in shares])
        for index, share in enumerate(shares):
            counts[index] += [stop - start for start, stop in share.slices]
    stops = np.cumsum(counts, axis=0)
    merged = tuple(
        Share(machine, tuple((int(stop - count), int(stop))
                             for count, stop in zip(counts[index], stops[index], strict=True)))
        for index, machine in enumerate(machines)
    )  # fmt: skip
    return merged, owner


def make_rescue_plan(plan: Plan, machines: Sequence[Machine], job_ids: npt.ArrayLike) -> Plan:
    """Plan only ``job_ids`` of ``plan``'s pool over ``machines``, in its plan order.

    Its digest covers the machines and the rescued set, so every survivor that
    rescues the same report with the same machines.json shows the same digest.
    """
    total = plan.total
    rescued = np.unique(np.asarray(job_ids, dtype=np.int64))
    if len(rescued) and (rescued[0] < 0 or rescued[-1] >= total):
        raise ValueError(f"rescued job ids must lie in range({total})")
    kinds = plan.kinds
    within = plan_digest(plan.campaign_seed, plan.pool_digest, machines, kinds.canonical())
    digest = rescue_digest(_phased_digest(within, plan.phases), rescued)
    planned = plan.order[np.isin(plan.order, rescued, assume_unique=True)]
    shares, owner = _split(machines, kinds, plan.phases, planned, total)
    return Plan(
        digest, plan.campaign_seed, plan.pool_digest, total, shares, plan.order, rescued, plan,
        kinds, plan.phases, owner,
    )  # fmt: skip


def _shares(
    machines: Sequence[Machine], kinds: JobKinds, jobs: npt.NDArray[np.int64]
) -> tuple[Share, ...]:
    """Each machine's share of ``jobs`` (the planned jobs in plan order)."""
    if kinds.plain:
        sizes = split_counts([machine.weight for machine in machines], len(jobs))
        stops = np.cumsum(sizes).tolist()
        slices: tuple[Slices, ...] = tuple(
            ((stop - size, stop),) for size, stop in zip(sizes, stops, strict=True)
        )
    else:
        slices = kind_slices(kinds, jobs, machines)
    return tuple(Share(machine, cut) for machine, cut in zip(machines, slices, strict=True))


def share_jobs(plan: Plan, share: Share) -> npt.NDArray[np.int64]:
    """Return the job ids of ``share`` in plan order, the order its host runs them."""
    if share not in plan.shares:
        raise ValueError(f"the share of {share.machine.name!r} is not part of this plan")
    jobs = all_jobs(plan)
    index = plan.shares.index(share)
    if plan.owner is not None and plan.phases is not None:
        picked = jobs[plan.owner[jobs] == index]
        # Phase by phase, each in plan order: the order its host runs them.
        by_phase: npt.NDArray[np.int64] = picked[
            np.argsort(plan.phases.of_job[picked], kind="stable")
        ]
        return by_phase
    if plan.kinds.of_job is None:
        ((start, stop),) = share.slices
        return jobs[start:stop].copy()
    mine = slice_owners(plan.kinds, jobs, [s.slices for s in plan.shares])
    kept: npt.NDArray[np.int64] = jobs[mine == index]
    return kept


def all_jobs(plan: Plan) -> npt.NDArray[np.int64]:
    """Return every planned job id in plan order (the whole pool, or the rescued ones)."""
    if plan.rescued is None:
        return plan.order
    return plan.order[np.isin(plan.order, plan.rescued, assume_unique=True)]


def owners(plan: Plan) -> npt.NDArray[np.uint16]:
    """Each job's machine, as its index in the plan's shares (a rescue's: those it plans)."""
    owner = np.zeros(plan.total, dtype=np.uint16)
    jobs = all_jobs(plan)
    if plan.owner is not None:
        owner[jobs] = plan.owner[jobs]
        return owner
    if plan.kinds.of_job is not None:
        owner[jobs] = slice_owners(plan.kinds, jobs, [share.slices for share in plan.shares])
        return owner
    for index, share in enumerate(plan.shares):
        ((start, stop),) = share.slices
        owner[jobs[start:stop]] = index
    return owner
