"""Tests for splitter.campaign.fit: which machines hold each kind, and how many jobs each gets."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from splitter.campaign.fit import Fit, Kind, apportion, fit_kinds, kinds_of
from splitter.campaign.machines import Machine
from splitter.campaign.needs import Needs
from splitter.campaign.plan import split_counts
from splitter.errors import ConfigError

GIB = 2**30
ALPHA = Machine("alpha", 1.0, 8, gpus=2, mem=64 * GIB, tags=("openfoam",))
BETA = Machine("beta", 1.0, 8)
CPU = Needs()
GPU = Needs(gpus=1)

perfs = st.sampled_from([0.1, 0.25, 0.5, 0.7, 1.0, 1.5, 2.0, 3.3])
plain_machines = st.lists(
    st.builds(Machine, name=st.just("m"), perf=perfs, cores=st.integers(1, 32)),
    min_size=1,
    max_size=6,
)


def test_one_kind_of_one_core_jobs_is_todays_split() -> None:
    machines = [Machine("a", 0.1, 3), Machine("b", 1.5, 4), Machine("c", 0.7, 16)]
    fit = fit_kinds([Kind(CPU, 1000)], machines)
    assert fit.counts == (split_counts([machine.weight for machine in machines], 1000),)


@given(plain_machines, st.integers(0, 10**6))
def test_one_plain_kind_always_gives_exactly_split_counts(
    machines: list[Machine], count: int
) -> None:
    fit = fit_kinds([Kind(CPU, count)], machines)
    assert fit.counts == (split_counts([machine.weight for machine in machines], count),)


def test_gpu_jobs_go_only_where_the_gpus_are_and_both_machines_end_together() -> None:
    fit = fit_kinds([Kind(CPU, 160), Kind(GPU, 20, first_job=1)], [ALPHA, BETA])
    assert fit.holds == ((True, True), (True, False))
    # The GPU jobs hold 2 of alpha's 8 cores for 10 s; alpha's other cores take
    # plain jobs meanwhile, so both end at 11.25 s, the lower bound of 180 core-jobs on 16.
    assert fit.counts == ((70, 90), (20, 0))
    assert fit.busy == (Fraction(45, 4), Fraction(45, 4))
    assert fit.machine_totals() == (90, 90)


def test_tags_route_jobs_only_to_tagged_machines() -> None:
    fit = fit_kinds([Kind(Needs(tags=("openfoam",)), 50)], [BETA, ALPHA])
    assert fit.counts == ((0, 50),)


def test_a_job_bigger_than_a_machine_goes_elsewhere() -> None:
    fit = fit_kinds([Kind(Needs(cores=4, mem=32 * GIB), 10)], [ALPHA, BETA])
    assert fit.holds == ((True, False),)
    assert fit.counts == ((10, 0),)


def test_jobs_that_fit_fewer_times_at_once_get_fewer_of_a_machines_jobs() -> None:
    # 5-core jobs: one at a time on 8 cores, two on 10, so the 10-core machine
    # does twice the jobs per second at the same perf.
    machines = [Machine("eight", 1.0, 8), Machine("ten", 1.0, 10)]
    assert fit_kinds([Kind(Needs(cores=5), 30)], machines).counts == ((10, 20),)


def test_named_counts_limit_how_many_run_at_once() -> None:
    machines = [
        Machine("a", 1.0, 8, resources=(("licences", 1),)),
        Machine("b", 1.0, 8, resources=(("licences", 3),)),
    ]
    fit = fit_kinds([Kind(Needs(resources=(("licences", 1),)), 40)], machines)
    assert fit.counts == ((10, 30),)


def test_work_per_job_weighs_a_kind() -> None:
    machines = [Machine("a", 1.0, 1, tags=("x",)), Machine("b", 1.0, 1)]
    long_jobs = Kind(Needs(tags=("x",)), 2, work=Fraction(5))
    fit = fit_kinds([long_jobs, Kind(CPU, 12)], machines)
    # a is busy 10 s with the long jobs; b takes plain jobs up to 10 s, the rest is split.
    assert fit.counts == ((2, 0), (1, 11))
    assert fit.busy == (Fraction(11), Fraction(11))


def test_a_kind_no_machine_can_hold_names_a_job_and_the_closest_machine() -> None:
    kinds = [Kind(CPU, 5), Kind(Needs(cores=16, gpus=1, tags=("openfoam",)), 3, first_job=17)]
    with pytest.raises(ConfigError) as caught:
        fit_kinds(kinds, [BETA, ALPHA])
    assert str(caught.value) == (
        "job 17 needs cores=16 gpus=1 tags=openfoam, but no machine in machines.json can hold "
        "it (the closest, 'alpha', has cores=8 gpus=2 tags=openfoam); lower what the job "
        "needs, or declare a machine that has it"
    )


def test_the_closest_machine_is_the_one_short_of_fewest_things() -> None:
    big = Machine("big", 1.0, 64)
    with pytest.raises(ConfigError, match=r"the closest, 'alpha', has cores=8 gpus=2 mem=64G\)"):
        fit_kinds([Kind(Needs(cores=16, gpus=1, mem=GIB), 1)], [big, ALPHA])


def test_a_kind_without_jobs_needs_no_machine() -> None:
    fit = fit_kinds([Kind(Needs(gpus=8), 0), Kind(CPU, 4)], [BETA])
    assert fit.counts == ((0,), (4,))


def test_kinds_of_counts_the_jobs_and_finds_a_first_job_of_each() -> None:
    kinds = kinds_of([CPU, GPU, Needs(cores=2)], np.array([1, 0, 1, 1, 2]), work=[1, 2.5, 3])
    assert kinds == (
        Kind(CPU, 1, 1, Fraction(1)),
        Kind(GPU, 3, 0, Fraction(5, 2)),
        Kind(Needs(cores=2), 1, 4, Fraction(3)),
    )


def test_apportion_refuses_shares_that_do_not_add_up_to_whole_jobs() -> None:
    with pytest.raises(ValueError, match="whole number"):
        apportion([Fraction(1, 2)])


# Properties over random campaigns: kinds with tags, cores and GPUs on machines
# with and without them.

TAGS = ("a", "b", "c")


@st.composite
def campaigns(draw: st.DrawFn) -> tuple[list[Kind], list[Machine]]:
    machines = draw(
        st.lists(
            st.builds(
                Machine,
                name=st.just("m"),
                perf=perfs,
                cores=st.integers(1, 16),
                gpus=st.integers(0, 3),
                tags=st.lists(st.sampled_from(TAGS), unique=True).map(lambda t: tuple(sorted(t))),
            ),
            min_size=1,
            max_size=6,
        )
    )
    kinds = draw(
        st.lists(
            st.builds(
                Kind,
                needs=st.builds(
                    Needs,
                    cores=st.integers(1, 4),
                    gpus=st.sampled_from([0, 0, 1, 2]),
                    tags=st.lists(st.sampled_from(TAGS), max_size=1).map(tuple),
                ),
                count=st.integers(0, 500),
                work=st.sampled_from([Fraction(1), Fraction(1, 3), Fraction(5)]),
            ),
            min_size=1,
            max_size=5,
        )
    )
    return kinds, machines


def fitted(kinds: list[Kind], machines: list[Machine]) -> Fit:
    try:
        return fit_kinds(kinds, machines)
    except ConfigError:
        assume(False)
        raise


@given(campaigns())
def test_every_job_goes_to_a_machine_that_holds_it_and_totals_are_exact(
    campaign: tuple[list[Kind], list[Machine]],
) -> None:
    kinds, machines = campaign
    fit = fitted(kinds, machines)
    for kind, holds, counts in zip(kinds, fit.holds, fit.counts, strict=True):
        assert sum(counts) == kind.count
        for machine, held, count in zip(machines, holds, counts, strict=True):
            assert held == (
                set(kind.needs.tags) <= set(machine.tags)
                and kind.needs.cores <= machine.cores
                and kind.needs.gpus <= machine.gpus
            )
            assert held or count == 0


@given(campaigns())
def test_each_count_is_within_one_job_of_its_exact_share(
    campaign: tuple[list[Kind], list[Machine]],
) -> None:
    kinds, machines = campaign
    fit = fitted(kinds, machines)
    for kind, quotas, counts in zip(kinds, fit.quotas, fit.counts, strict=True):
        assert sum(quotas) == kind.count
        for quota, count in zip(quotas, counts, strict=True):
            assert math.floor(quota) <= count <= math.ceil(quota)


@given(campaigns(), st.data())
def test_a_growing_kind_never_loses_shares_and_its_counts_lose_at_most_one(
    campaign: tuple[list[Kind], list[Machine]], data: st.DataObject
) -> None:
    kinds, machines = campaign
    before = fitted(kinds, machines)
    index = data.draw(st.integers(0, len(kinds) - 1))
    grown = list(kinds)
    kind = kinds[index]
    grown[index] = Kind(kind.needs, kind.count + data.draw(st.integers(1, 50)), work=kind.work)
    after = fitted(grown, machines)
    for old, new in zip(before.quotas[index], after.quotas[index], strict=True):
        assert new >= old
    for old_count, new_count in zip(before.counts[index], after.counts[index], strict=True):
        assert new_count >= old_count - 1


@st.composite
def nested_campaigns(draw: st.DrawFn) -> tuple[list[Kind], list[Machine]]:
    """One-core kinds whose machines form a chain: tags t0..tj on machines, prefixes on jobs."""
    chain = [f"t{i}" for i in range(4)]
    levels = draw(st.lists(st.integers(0, 4), min_size=1, max_size=6))
    machines = [
        Machine("m", draw(perfs), draw(st.integers(1, 16)), tags=tuple(chain[:level]))
        for level in levels
    ]
    needs = st.integers(0, max(levels)).map(lambda level: Needs(tags=tuple(chain[:level])))
    kinds = draw(st.lists(st.builds(Kind, needs, st.integers(0, 2000)), min_size=1, max_size=4))
    return kinds, machines


def hall_bound(kinds: list[Kind], machines: list[Machine]) -> Fraction:
    """The least makespan of any fractional split: the densest set of kinds over its machines."""
    best = Fraction(0)
    for size in range(1, len(kinds) + 1):
        for chosen in itertools.combinations(kinds, size):
            holders = [
                m for m in machines if any(set(k.needs.tags) <= set(m.tags) for k in chosen)
            ]
            work = sum(kind.count for kind in chosen)
            best = max(best, Fraction(work) / sum(Fraction(m.weight) for m in holders))
    return best


@given(nested_campaigns())
def test_nested_campaigns_end_within_a_job_per_kind_of_the_best_split(
    campaign: tuple[list[Kind], list[Machine]],
) -> None:
    kinds, machines = campaign
    fit = fitted(kinds, machines)
    longest_job = max(1 / Fraction(machine.weight) for machine in machines)
    assert max(fit.busy) <= hall_bound(kinds, machines) + len(kinds) * longest_job


@given(nested_campaigns(), st.data())
def test_adding_jobs_moves_few_others(
    campaign: tuple[list[Kind], list[Machine]], data: st.DataObject
) -> None:
    kinds, machines = campaign
    before = fitted(kinds, machines)
    index = data.draw(st.integers(0, len(kinds) - 1))
    added = data.draw(st.integers(1, 100))
    grown = list(kinds)
    grown[index] = Kind(kinds[index].needs, kinds[index].count + added)
    after = fitted(grown, machines)
    changed = sum(
        abs(new - old)
        for rows in zip(before.counts, after.counts, strict=True)
        for old, new in zip(*rows, strict=True)
    )
    moved = (changed - added) // 2
    assert moved <= len(kinds) * (added + len(machines))
