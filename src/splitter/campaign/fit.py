"""Fit kinds of jobs to machines: who can hold each kind, and how many of each kind each gets.

    kinds (Needs, job count, work per job) + machines (capacities, perf)
        --holds--> which machines can hold each kind (tags and every count)
        --pour, kind after kind--> exact shares --largest remainder--> job counts

Pure and exact: every quantity is an integer or a Fraction (a float perf is
taken at its exact value), so every platform fits alike. The rule, as the
README gives it:

A job goes only to a machine whose tags include all of the job's tags and
whose every count (cores, gpus, mem, named counts) is at least what the job
needs. On machine m, a job of kind k holds what it needs for work_k / perf_m
seconds, and at most floor(capacity / need) such jobs fit in each count at
once, so each of its jobs keeps that count of m busy for work_k / (perf_m x
floor(capacity / need)) seconds; a machine is done when its busiest count is.
Kinds are placed in turn: first those that fewer machines can hold, then
those that need more kinds of count (a GPU job before a plain one, so the
cores its GPU jobs hold are counted before plain jobs fill them), then in
the order first seen. Each kind is poured like water into vessels: it raises
the machines that can hold it, lowest first, to one common busy time of the
counts it uses, and its jobs are split by largest remainder of those exact
shares (each machine gets the floor or the ceiling of its share, ties to the
earlier machine), which then count as busy time for the kinds after it. A
single kind of one-core jobs is split exactly by perf x cores, as before.

Small changes move few jobs: a kind's shares grow continuously with its
count, and one more job of a kind never takes a job of that kind from any
machine beyond the one that rounding may move.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from splitter.campaign.machines import Machine
from splitter.campaign.needs import Needs
from splitter.errors import ConfigError

__all__ = ["Fit", "Kind", "apportion", "fit_kinds", "kinds_of"]

Rates = dict[str, Fraction]
"""Jobs per second of work one machine finishes in each count a kind uses."""


@dataclass(frozen=True)
class Kind:
    """Jobs that need the same: how many, one of them (for messages), the work of each."""

    needs: Needs
    count: int
    first_job: int = 0
    work: Fraction = Fraction(1)


@dataclass(frozen=True)
class Fit:
    """Where the kinds go: ``[kind][machine]`` tables, and each machine's busy time.

    ``quotas`` are the exact shares the counts are rounded from; ``busy`` is
    each machine's estimated time to run its jobs, in work units over perf.
    """

    holds: tuple[tuple[bool, ...], ...]
    counts: tuple[tuple[int, ...], ...]
    quotas: tuple[tuple[Fraction, ...], ...]
    busy: tuple[Fraction, ...]

    def machine_totals(self) -> tuple[int, ...]:
        """How many jobs each machine gets, of every kind together."""
        return tuple(sum(column) for column in zip(*self.counts, strict=True))


def kinds_of(
    kinds: Sequence[Needs],
    kind_of_job: npt.NDArray[np.integer[Any]],
    work: Sequence[int | float | Fraction] | None = None,
) -> tuple[Kind, ...]:
    """Kinds with their job counts and first jobs, from ``needs_of``'s result."""
    counts = np.bincount(kind_of_job, minlength=len(kinds)).tolist()
    seen, first = np.unique(kind_of_job, return_index=True)
    first_job = dict(zip(seen.tolist(), first.tolist(), strict=True))
    weights = [1] * len(kinds) if work is None else list(work)
    return tuple(
        Kind(needs, counts[index], first_job.get(index, 0), Fraction(weights[index]))
        for index, needs in enumerate(kinds)
    )


def fit_kinds(kinds: Sequence[Kind], machines: Sequence[Machine]) -> Fit:
    """Fit ``kinds`` to ``machines`` by the rule of this module's docstring.

    A kind with jobs that no machine can hold is a ConfigError naming one of
    its jobs, what it needs, and what the machine that comes closest has.
    """
    if not machines:
        raise ValueError("fit_kinds needs at least one machine")
    rates = [[_rates(kind.needs, machine) for machine in machines] for kind in kinds]
    holds = tuple(tuple(rate is not None for rate in row) for row in rates)
    for kind, row in zip(kinds, holds, strict=True):
        if kind.work <= 0:
            raise ValueError(f"work per job must be above 0, got {kind.work}")
        if kind.count and not any(row):
            raise ConfigError(_cannot_hold(kind, machines))
    busy: list[dict[str, Fraction]] = [{} for _ in machines]
    counts: list[tuple[int, ...]] = [()] * len(kinds)
    quotas: list[tuple[Fraction, ...]] = [()] * len(kinds)
    for index in sorted(range(len(kinds)), key=lambda k: _order(kinds[k], holds[k], k)):
        kind = kinds[index]
        quotas[index] = _pour(kind.count, kind.work, rates[index], busy)
        counts[index] = apportion(quotas[index])
        for machine_busy, rate, count in zip(busy, rates[index], counts[index], strict=True):
            for name, jobs_per_second in (rate or {}).items():
                machine_busy[name] = machine_busy.get(name, Fraction(0)) + (
                    count * kind.work / jobs_per_second
                )
    return Fit(
        holds=holds,
        counts=tuple(counts),
        quotas=tuple(quotas),
        busy=tuple(max(times.values(), default=Fraction(0)) for times in busy),
    )


def apportion(quotas: Sequence[Fraction]) -> tuple[int, ...]:
    """Whole counts from exact shares of a whole total, by largest remainder (Hamilton).

    Each count is the floor or the ceiling of its share; the leftover jobs go
    to the largest remainders, the earlier machine on a tie, as
    ``splitter.campaign.plan.split_counts`` does.
    """
    total = Fraction(sum(quotas))
    if total.denominator != 1:
        raise ValueError(f"the shares must add up to a whole number, got {total}")
    counts = [math.floor(quota) for quota in quotas]
    leftover = int(total) - sum(counts)
    by_remainder = sorted(range(len(quotas)), key=lambda i: (counts[i] - quotas[i], i))
    for i in by_remainder[:leftover]:
        counts[i] += 1
    return tuple(counts)


def _rates(needs: Needs, machine: Machine) -> Rates | None:
    """Jobs of ``needs`` per second of work in each count it uses on ``machine``; None: never."""
    if not set(needs.tags) <= set(machine.tags):
        return None
    capacity = machine.capacity()
    rates: Rates = {}
    for name, need in needs.counts().items():
        at_once = capacity.get(name, 0) // need
        if at_once == 0:
            return None
        # The float product, as the weight perf x cores is: one kind of one-core
        # jobs then splits exactly as split_counts splits by weight.
        rates[name] = Fraction(machine.perf * at_once)
    return rates


def _order(kind: Kind, holds: Sequence[bool], index: int) -> tuple[int, int, int]:
    return (sum(holds), -len(kind.needs.counts()), index)


def _pour(
    count: int, work: Fraction, rates: Sequence[Rates | None], busy: Sequence[dict[str, Fraction]]
) -> tuple[Fraction, ...]:
    """Each machine's exact share of ``count`` jobs, raised to one common busy level T.

    On machine m the share is min over the kind's counts r of rate_r x (T -
    busy_r) / work, and 0 below the busiest of them: concave, piecewise linear
    and rising in T, so T is found exactly between two breakpoints.
    """
    lines = [
        None
        if rate is None
        else [(speed, busy[m].get(name, Fraction(0))) for name, speed in rate.items()]
        for m, rate in enumerate(rates)
    ]
    if count == 0:
        return tuple(Fraction(0) for _ in rates)
    points = sorted({point for machine in lines if machine for point in _breakpoints(machine)})

    def total(level: Fraction) -> Fraction:
        return sum((_share(machine, level) for machine in lines if machine), Fraction(0))

    wanted = count * work
    low, high = 0, len(points)  # the last breakpoint whose total is at most wanted
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if total(points[middle]) <= wanted else (low, middle)
    start = points[low]
    slope = sum((_slope(machine, start) for machine in lines if machine), Fraction(0))
    level = start + (wanted - total(start)) / slope
    return tuple(
        Fraction(0) if machine is None else _share(machine, level) / work for machine in lines
    )


def _share(lines: Sequence[tuple[Fraction, Fraction]], level: Fraction) -> Fraction:
    """Work a machine takes below ``level``: the tightest of its counts, never below 0."""
    return max(Fraction(0), min(speed * (level - start) for speed, start in lines))


def _slope(lines: Sequence[tuple[Fraction, Fraction]], level: Fraction) -> Fraction:
    """How fast ``_share`` grows just above ``level``."""
    if level < max(start for _, start in lines):
        return Fraction(0)
    values = [(speed * (level - start), speed) for speed, start in lines]
    return min(values)[1]  # the tightest count, and on a tie the one that grows slowest


def _breakpoints(lines: Sequence[tuple[Fraction, Fraction]]) -> list[Fraction]:
    """Where a machine's share starts to grow, and where its tightest count changes."""
    begin = max(start for _, start in lines)
    points = [begin]
    for i, (speed_a, start_a) in enumerate(lines):
        for speed_b, start_b in lines[i + 1 :]:
            if speed_a != speed_b:
                cross = (speed_a * start_a - speed_b * start_b) / (speed_a - speed_b)
                if cross > begin:
                    points.append(cross)
    return points


def _cannot_hold(kind: Kind, machines: Sequence[Machine]) -> str:
    """One sentence: a job of the kind, what it needs, and the machine that comes closest."""
    needs = kind.needs

    def shortfalls(machine: Machine) -> int:
        capacity = machine.capacity()
        missing = sum(capacity.get(name, 0) < need for name, need in needs.counts().items())
        return missing + (not set(needs.tags) <= set(machine.tags))

    closest = min(machines, key=lambda machine: (shortfalls(machine), -machine.weight))
    has = closest.describe(list(needs.counts()), tags=bool(needs.tags))
    return (
        f"job {kind.first_job} needs {needs.describe()}, but no machine in machines.json can "
        f"hold it (the closest, {closest.name!r}, has {has}); lower what the job needs, or "
        "declare a machine that has it"
    )
