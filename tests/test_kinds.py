"""Tests for the plan with kinds of job: each kind cut among the machines that hold it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splitter.campaign.canonical import materialize_pool
from splitter.campaign.identity import identify_pool
from splitter.campaign.kinds import PLAIN, JobKinds, job_kinds, kind_slices, slice_owners
from splitter.campaign.machines import Machine
from splitter.campaign.needs import Needs, NeedsSpec
from splitter.campaign.plan import (
    Plan,
    all_jobs,
    make_plan,
    make_rescue_plan,
    owners,
    share_jobs,
)
from splitter.errors import ConfigError

SEED = bytes(range(32))
MACHINES = (Machine("alpha", 2.0, 4), Machine("beta", 1.5, 8), Machine("gamma", 1.0, 1))
# tests/test_plan.py's regression vector: 20 jobs, every job one core.
PLAN_OF_TWENTY = "66b50edeb1a0c5aa471f4c519fdf91ffaee8119094dc2c012284ac38a05368e8"
GPU_HOST = Machine("gpu", 1.0, 8, gpus=2, tags=("openfoam",))
CPU_HOST = Machine("cpu", 1.0, 8)

GPU = {"gpus": 1}
TAGGED = {"tags": ["openfoam"]}
KINDS = {"plain": {}, "gpu": GPU, "tagged": TAGGED}


def plan_of(machines: Any, pool: list[Any], needs: NeedsSpec = None, seed: bytes = SEED) -> Plan:
    items = materialize_pool(pool)
    identity = identify_pool(items)
    kinds = job_kinds(items, needs)
    return make_plan(seed, identity.digest, list(machines), identity.keys.words, kinds)


def by_kind(item: tuple[int, str]) -> dict[str, Any]:
    return KINDS[item[1]]


def test_a_campaign_without_needs_plans_and_digests_as_before() -> None:
    plan = plan_of(MACHINES, list(range(20)))
    assert plan.digest.hex() == PLAN_OF_TWENTY
    assert plan.kinds == PLAIN


@pytest.mark.parametrize("needs", [{}, {"cores": 1}, Needs(), lambda item: {"cores": "1"}])
def test_needs_of_one_core_for_every_job_keep_the_digest_of_no_needs(needs: NeedsSpec) -> None:
    assert plan_of(MACHINES, list(range(20)), needs).digest.hex() == PLAN_OF_TWENTY


def test_needs_count_in_the_digest() -> None:
    one = plan_of(MACHINES, list(range(20)), lambda item: {"cores": 2 if item == 3 else 1})
    other = plan_of(MACHINES, list(range(20)), lambda item: {"cores": 2 if item == 4 else 1})
    every = plan_of(MACHINES, list(range(20)), {"cores": 2})
    digests = {one.digest.hex(), other.digest.hex(), every.digest.hex(), PLAN_OF_TWENTY}
    assert len(digests) == 4


def test_one_kind_of_bigger_jobs_goes_only_where_it_fits() -> None:
    plan = plan_of(MACHINES, list(range(30)), {"cores": 4})
    assert [share.size for share in plan.shares] == [12, 18, 0]
    assert plan.kinds.of_job is None


def test_tags_route_jobs_only_to_tagged_machines() -> None:
    pool = [(i, "tagged" if i % 3 == 0 else "plain") for i in range(90)]
    plan = plan_of([CPU_HOST, GPU_HOST], pool, by_kind)
    owner = owners(plan)
    tagged = [job for job, item in enumerate(pool) if item[1] == "tagged"]
    assert set(owner[tagged].tolist()) == {1}
    assert set(share_jobs(plan, plan.share_for("cpu")).tolist()).isdisjoint(tagged)


def test_each_kinds_jobs_in_plan_order_are_cut_into_contiguous_slices() -> None:
    pool = [(i, "gpu" if i % 4 == 0 else "plain") for i in range(200)]
    plan = plan_of([CPU_HOST, GPU_HOST, Machine("cpu2", 2.0, 4)], pool, by_kind)
    jobs = all_jobs(plan)
    kind = plan.kinds.of(jobs)
    assert plan.kinds.needs == (Needs(gpus=1), Needs())
    for index in range(2):
        ordered = jobs[kind == index]
        for share in plan.shares:
            start, stop = share.slices[index]
            mine = set(share_jobs(plan, share).tolist())
            assert set(ordered[start:stop].tolist()) <= mine
    # Kind 0 (the GPU jobs, first seen) all on the GPU host, whose cores then
    # take fewer plain jobs: every host's cores are busy about 8.3 s.
    assert [share.slices for share in plan.shares] == [
        ((0, 0), (0, 67)),
        ((0, 50), (67, 84)),
        ((50, 50), (84, 150)),
    ]


def test_a_hosts_share_runs_in_plan_order() -> None:
    pool = [(i, "gpu" if i % 4 == 0 else "plain") for i in range(100)]
    plan = plan_of([CPU_HOST, GPU_HOST], pool, by_kind)
    order = all_jobs(plan).tolist()
    for share in plan.shares:
        mine = share_jobs(plan, share).tolist()
        assert mine == [job for job in order if job in set(mine)]


def test_a_job_no_machine_can_hold_is_refused_naming_it_and_the_largest_machine() -> None:
    with pytest.raises(ConfigError) as caught:
        plan_of(MACHINES, list(range(10)), lambda item: {"cores": 16} if item == 7 else {})
    assert str(caught.value) == (
        "job 7 needs cores=16, but no machine in machines.json can hold it (the closest, "
        "'beta', has cores=8); lower what the job needs, or declare a machine that has it"
    )


def test_a_rescue_plans_each_kind_over_the_machines_that_hold_it() -> None:
    pool = [(i, "gpu" if i % 4 == 0 else "plain") for i in range(100)]
    plan = plan_of([CPU_HOST, GPU_HOST], pool, by_kind)
    rescued = list(range(0, 100, 2))
    rescue = make_rescue_plan(plan, [GPU_HOST, CPU_HOST], rescued)
    owner = owners(rescue)
    gpu_jobs = [job for job in rescued if pool[job][1] == "gpu"]
    assert set(owner[gpu_jobs].tolist()) == {0}
    assert sorted(job for s in rescue.shares for job in share_jobs(rescue, s)) == rescued
    with pytest.raises(ConfigError, match=r"^job 0 needs cores=1 gpus=1, but no machine"):
        make_rescue_plan(plan, [CPU_HOST], rescued)


def test_slice_owners_skip_empty_slices() -> None:
    kinds = JobKinds((Needs(), Needs(gpus=1)), np.array([0, 1, 0, 1, 0], dtype=np.int32))
    jobs = np.array([4, 3, 2, 1, 0], dtype=np.int64)
    shares = [((0, 0), (0, 2)), ((0, 3), (2, 2))]
    assert slice_owners(kinds, jobs, shares).tolist() == [1, 0, 1, 0, 1]


def test_kind_slices_of_no_jobs_are_empty() -> None:
    kinds = JobKinds((Needs(), Needs(gpus=1)), np.array([], dtype=np.int32))
    empty = np.array([], dtype=np.int64)
    assert kind_slices(kinds, empty, [CPU_HOST, GPU_HOST]) == (
        ((0, 0), (0, 0)), ((0, 0), (0, 0))
    )  # fmt: skip


# --- properties ---------------------------------------------------------------------------

seeds = st.binary(min_size=32, max_size=32)
hosts = st.lists(
    st.builds(
        Machine,
        name=st.text("abcdefgh", min_size=1, max_size=4),
        perf=st.sampled_from([0.5, 1.0, 1.5, 2.0]),
        cores=st.integers(1, 16),
        gpus=st.integers(0, 2),
        tags=st.sampled_from([(), ("openfoam",)]),
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda machine: machine.name,
).map(lambda found: [*found, GPU_HOST])
mixes = st.lists(st.sampled_from(sorted(KINDS)), min_size=0, max_size=300)


def owner_by_item(plan: Plan, pool: list[Any]) -> dict[Any, str]:
    names = [share.machine.name for share in plan.shares]
    return {pool[job]: names[owner] for job, owner in enumerate(owners(plan).tolist())}


@settings(max_examples=60, deadline=None)
@given(seeds, hosts, mixes)
def test_every_job_goes_to_a_machine_that_holds_it_and_shares_cover_the_pool(
    seed: bytes, machines: list[Machine], kinds: list[str]
) -> None:
    pool = [(i, kind) for i, kind in enumerate(kinds)]
    plan = plan_of(machines, pool, by_kind, seed)
    shares = [share_jobs(plan, share).tolist() for share in plan.shares]
    assert sorted(job for share in shares for job in share) == list(range(len(pool)))
    for share, jobs in zip(plan.shares, shares, strict=True):
        assert share.size == len(jobs)
        for job in jobs:
            needs = plan.kinds.needs[plan.kinds.kind(job)]
            assert set(needs.tags) <= set(share.machine.tags)
            assert needs.gpus <= share.machine.gpus


@settings(max_examples=60, deadline=None)
@given(seeds, hosts, mixes, st.sampled_from(sorted(KINDS)), st.integers(1, 40))
def test_adding_k_jobs_of_a_kind_moves_at_most_about_k_per_machine_and_kind(
    seed: bytes, machines: list[Machine], kinds: list[str], added: str, k: int
) -> None:
    pool = [(i, kind) for i, kind in enumerate(kinds)]
    grown = pool + [(len(pool) + i, added) for i in range(k)]
    before = owner_by_item(plan_of(machines, pool, by_kind, seed), pool)
    after = owner_by_item(plan_of(machines, grown, by_kind, seed), grown)
    moved = sum(1 for item, owner in before.items() if after[item] != owner)
    assert moved <= (len(machines) - 1) * (k + 2)
