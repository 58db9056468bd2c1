"""The plan: a seeded order of the job pool, cut into one share per machine.

Pure and vectorised. The order comes from a keyed 64-bit mixer applied to
each job index (never from random.shuffle or a NumPy Generator, whose streams
may change between versions); the split is a largest-remainder apportionment
computed in exact rational arithmetic, so every platform plans the same shares.

    run seed -> job_order(n): a permutation of range(n)
    weights  -> split_counts: how many jobs each machine gets
    both     -> Plan: share i is positions [start, stop) of the order
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
from splitter.campaign.machines import Machine

__all__ = [
    "CALIBRATION_SAMPLE",
    "Plan",
    "Share",
    "all_jobs",
    "job_order",
    "make_plan",
    "make_rescue_plan",
    "share_jobs",
    "split_counts",
]

# calibrate's sample: the first this many jobs of the plan order, the same on
# every host (`calibrate --sample N` for another size).
CALIBRATION_SAMPLE = 16

# splitmix64 constants (Steele, Lea and Flood, 2014).
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


@dataclass(frozen=True)
class Share:
    """One machine's share: positions [start, stop) of the ordered pool."""

    machine: Machine
    start: int
    stop: int

    @property
    def size(self) -> int:
        """The number of jobs in the share."""
        return self.stop - self.start


@dataclass(frozen=True)
class Plan:
    """Who runs what: the digest hosts compare and one share per machine, in order."""

    digest: bytes
    run_seed: bytes
    total: int
    shares: tuple[Share, ...]
    rescued: npt.NDArray[np.int64] | None = field(default=None, compare=False, repr=False)
    """For a rescue: the sorted job ids it plans, a subset of the pool; else None."""

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


def job_order(run_seed: bytes, n: int) -> npt.NDArray[np.int64]:
    """Return the plan order: a permutation of range(n), as int64, fixed by the run seed.

    Job i's sort key is the top 64 - b bits of a keyed splitmix64 hash of i,
    where b bits hold any index below n; the index fills the low b bits, so
    ties go to the lower index and one in-place sort of distinct integers
    gives the order. Distinct keys make the result independent of the sort
    algorithm, and the whole computation needs two arrays of n integers.
    """
    if n < 0:
        raise ValueError(f"n must be at least 0, got {n}")
    key_0, key_1 = (np.uint64(key) for key in _order_keys(run_seed))
    keys = np.arange(n, dtype=np.uint64)
    scratch = np.empty_like(keys)
    # uint64 array arithmetic wraps modulo 2**64 without warnings, as intended.
    keys *= _GOLDEN
    keys += key_0
    _mix(keys, scratch)
    keys ^= key_1
    _mix(keys, scratch)
    del scratch
    index_bits = np.uint64(max(n - 1, 1).bit_length())
    keys >>= index_bits
    keys <<= index_bits
    keys |= np.arange(n, dtype=np.uint64)
    keys.sort()
    keys &= (np.uint64(1) << index_bits) - np.uint64(1)
    return keys.view(np.int64)


def _order_keys(run_seed: bytes) -> tuple[int, int]:
    key_0, key_1 = struct.unpack("<QQ", tagged_digest("splitter/order/v1", run_seed)[:16])
    return key_0, key_1


def _mix(values: npt.NDArray[np.uint64], scratch: npt.NDArray[np.uint64]) -> None:
    """Apply the splitmix64 finalizer in place, using ``scratch`` for the shifts."""
    for shift, multiplier in ((30, _MIX_1), (27, _MIX_2)):
        np.right_shift(values, np.uint64(shift), out=scratch)
        values ^= scratch
        values *= multiplier
    np.right_shift(values, np.uint64(31), out=scratch)
    values ^= scratch


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


def make_plan(run_seed: bytes, machines: Sequence[Machine], total: int) -> Plan:
    """Return the plan for ``total`` jobs: contiguous shares in machines.json order."""
    return Plan(plan_digest(run_seed, machines), run_seed, total, _shares(machines, total))


def make_rescue_plan(
    run_seed: bytes, machines: Sequence[Machine], total: int, job_ids: npt.ArrayLike
) -> Plan:
    """Plan only ``job_ids`` of the pool over ``machines``, in the pool's plan order.

    Its digest covers the machines and the rescued set, so every survivor that
    rescues the same report with the same machines.json shows the same digest.
    """
    rescued = np.unique(np.asarray(job_ids, dtype=np.int64))
    if len(rescued) and (rescued[0] < 0 or rescued[-1] >= total):
        raise ValueError(f"rescued job ids must lie in range({total})")
    digest = rescue_digest(plan_digest(run_seed, machines), rescued)
    return Plan(digest, run_seed, total, _shares(machines, len(rescued)), rescued)


def _shares(machines: Sequence[Machine], count: int) -> tuple[Share, ...]:
    sizes = split_counts([machine.weight for machine in machines], count)
    stops = np.cumsum(sizes).tolist()
    return tuple(
        Share(machine, stop - size, stop)
        for machine, size, stop in zip(machines, sizes, stops, strict=True)
    )


def share_jobs(plan: Plan, share: Share) -> npt.NDArray[np.int64]:
    """Return the job indices of ``share`` in plan order, the order its host runs them."""
    if share not in plan.shares:
        raise ValueError(f"the share of {share.machine.name!r} is not part of this plan")
    return all_jobs(plan)[share.start : share.stop].copy()


def all_jobs(plan: Plan) -> npt.NDArray[np.int64]:
    """Return every planned job index in plan order (the whole pool, or the rescued ones)."""
    order = job_order(plan.run_seed, plan.total)
    if plan.rescued is None:
        return order
    return order[np.isin(order, plan.rescued, assume_unique=True)]
