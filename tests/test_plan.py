"""Tests for splitter.campaign.plan: the job order, the split and the plan's shares."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from splitter.campaign.canonical import materialize_pool
from splitter.campaign.digest import plan_digest
from splitter.campaign.identity import identify_pool
from splitter.campaign.machines import Machine
from splitter.campaign.plan import (
    Plan,
    Share,
    _order_ties,
    all_jobs,
    job_order,
    make_plan,
    order_keys,
    owners,
    share_jobs,
    split_counts,
)

SEED = bytes(range(32))
MACHINES = (Machine("alpha", 2.0, 4), Machine("beta", 1.5, 8), Machine("gamma", 1.0, 1))

ORDER_OF_TEN = [8, 9, 0, 7, 3, 2, 1, 4, 5, 6]
PLAN_OF_TWENTY = "66b50edeb1a0c5aa471f4c519fdf91ffaee8119094dc2c012284ac38a05368e8"
SHARES_OF_TWENTY = [
    [8, 19, 9, 0, 7, 3, 16, 15],
    [2, 11, 10, 12, 1, 13, 4, 5, 17, 6, 14],
    [18],
]

seeds = st.binary(min_size=32, max_size=32)
machine_lists = st.lists(
    st.builds(
        Machine,
        name=st.text(min_size=1, max_size=8),
        perf=st.floats(0.01, 1e4),
        cores=st.integers(1, 256),
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda machine: machine.name,
)


# --- job_order ------------------------------------------------------------------------------


def keys_of(pool: object) -> np.ndarray:
    return identify_pool(materialize_pool(pool)).keys.words


def test_job_order_regression_vector() -> None:
    assert job_order(SEED, keys_of(range(10))).tolist() == ORDER_OF_TEN


@given(seeds, st.integers(0, 3000))
def test_job_order_is_an_int64_permutation(seed: bytes, n: int) -> None:
    order = job_order(seed, keys_of(range(n)))
    assert order.dtype == np.int64
    assert sorted(order.tolist()) == list(range(n))


def test_job_order_depends_on_the_campaign_seed() -> None:
    keys = keys_of(range(50))
    assert job_order(SEED, keys).tolist() != job_order(bytes(32), keys).tolist()


def test_job_order_of_tiny_pools() -> None:
    assert job_order(SEED, keys_of([])).tolist() == []
    assert job_order(SEED, keys_of([7])).tolist() == [0]


def test_job_order_raises_no_overflow_warnings() -> None:
    with np.errstate(all="raise"):
        assert len(job_order(SEED, keys_of(range(1000)))) == 1000


@given(
    seeds,
    st.lists(st.integers(-50, 50), unique=True, min_size=2, max_size=40),
    st.lists(st.integers(100, 200), unique=True, max_size=20),
    st.randoms(),
)
def test_a_jobs_place_among_the_others_depends_on_their_keys_alone(
    seed: bytes, items: list[int], added: list[int], rng: random.Random
) -> None:
    grown = items + added
    rng.shuffle(grown)
    before = [items[j] for j in job_order(seed, keys_of(items))]
    after = [grown[j] for j in job_order(seed, keys_of(grown)) if grown[j] in items]
    assert after == before


def test_order_ties_of_equal_top_bits_follow_the_full_order_key_then_the_job_key() -> None:
    keys = keys_of(range(6))
    full = order_keys(SEED, keys)
    # Positions 1..3 pretend to share their top bits: they must end in full-key order.
    order = np.array([5, 0, 1, 2, 3, 4], dtype=np.int64)
    _order_ties(order, np.array([1, 2]), SEED, keys)
    middle = [0, 1, 2]
    assert order[[0, 4, 5]].tolist() == [5, 3, 4]
    assert order[1:4].tolist() == sorted(middle, key=lambda job: int(full[job]))


# --- split_counts ---------------------------------------------------------------------------


def test_split_counts_gives_leftovers_to_the_largest_remainders() -> None:
    # quotas 7.62, 11.43, 0.95: the two leftovers go to gamma, then alpha
    assert split_counts([8.0, 12.0, 1.0], 20) == (8, 11, 1)
    assert split_counts([0.1, 0.2, 0.7], 7) == (1, 1, 5)


def test_split_counts_breaks_remainder_ties_for_the_earlier_machine() -> None:
    assert split_counts([1.0, 1.0, 1.0], 10) == (4, 3, 3)
    assert split_counts([1.0, 1.0, 1.0], 2) == (1, 1, 0)


def test_split_counts_of_nothing() -> None:
    assert split_counts([1.0, 2.0], 0) == (0, 0)


@pytest.mark.parametrize("weights", [[], [1.0, 0.0], [-1.0], [float("nan")], [float("inf")]])
def test_split_counts_rejects_weights_that_are_not_positive(weights: list[float]) -> None:
    with pytest.raises(ValueError, match=r"^weights must be positive and finite, got \["):
        split_counts(weights, 5)


@given(st.lists(st.floats(1e-3, 1e6), min_size=1, max_size=8), st.integers(0, 10**7))
def test_split_counts_are_each_within_one_of_their_exact_quota(
    weights: list[float], n: int
) -> None:
    counts = split_counts(weights, n)
    total = sum(Fraction(weight) for weight in weights)
    assert sum(counts) == n
    for count, weight in zip(counts, weights, strict=True):
        quota = n * Fraction(weight) / total
        assert quota - 1 < count < quota + 1


# --- plans and shares -----------------------------------------------------------------------


def plan_of(machines: object, pool: object, seed: bytes = SEED) -> Plan:
    identity = identify_pool(materialize_pool(pool))
    return make_plan(seed, identity.digest, list(machines), identity.keys.words)  # type: ignore[call-overload]


def test_make_plan_cuts_contiguous_shares_in_machine_order() -> None:
    plan = plan_of(MACHINES, range(20))
    assert plan.digest == plan_digest(SEED, identify_pool(range(20)).digest, MACHINES)
    assert plan.total == 20
    assert plan.shares == (
        Share(MACHINES[0], ((0, 8),)), Share(MACHINES[1], ((8, 19),)),
        Share(MACHINES[2], ((19, 20),)),
    )  # fmt: skip
    assert [share.size for share in plan.shares] == [8, 11, 1]


def test_plan_regression_vector() -> None:
    plan = plan_of(MACHINES, range(20))
    assert plan.digest.hex() == PLAN_OF_TWENTY
    assert [share_jobs(plan, share).tolist() for share in plan.shares] == SHARES_OF_TWENTY


@pytest.mark.parametrize(
    "machines",
    [
        (Machine("alpha", 2.0, 4), Machine("beta", 1.5, 8), Machine("delta", 1.0, 1)),
        (Machine("alpha", 2.0, 4), Machine("beta", 1.25, 8), Machine("gamma", 1.0, 1)),
        (Machine("alpha", 2.0, 4), Machine("beta", 1.5, 8), Machine("gamma", 1.0, 2)),
        (Machine("beta", 1.5, 8), Machine("alpha", 2.0, 4), Machine("gamma", 1.0, 1)),
    ],
)
def test_plan_digest_changes_with_any_machine_name_perf_cores_or_order(
    machines: tuple[Machine, ...],
) -> None:
    assert plan_of(machines, range(20)).digest != plan_of(MACHINES, range(20)).digest


def test_share_for_finds_a_machine_by_name() -> None:
    plan = plan_of(MACHINES, range(20))
    assert plan.share_for("beta") == Share(MACHINES[1], ((8, 19),))
    with pytest.raises(KeyError):
        plan.share_for("delta")


def test_share_jobs_are_the_plan_order_slice_the_host_runs() -> None:
    plan = plan_of(MACHINES, range(20))
    beta = plan.share_for("beta")
    assert share_jobs(plan, beta).tolist() == all_jobs(plan)[8:19].tolist()
    assert all_jobs(plan).tolist() == job_order(SEED, keys_of(range(20))).tolist()


def test_share_jobs_refuses_a_share_from_another_plan() -> None:
    plan = plan_of(MACHINES, range(20))
    with pytest.raises(ValueError, match=r"^the share of 'alpha' is not part of this plan$"):
        share_jobs(plan, Share(MACHINES[0], ((0, 3),)))


def test_owners_name_each_jobs_machine_by_its_share() -> None:
    plan = plan_of(MACHINES, range(20))
    owner = owners(plan)
    for index, share in enumerate(plan.shares):
        assert sorted(np.flatnonzero(owner == index).tolist()) == sorted(
            share_jobs(plan, share).tolist()
        )


@given(seeds, machine_lists, st.integers(0, 2000))
def test_shares_are_disjoint_cover_the_pool_and_each_is_within_one_of_its_quota(
    seed: bytes, machines: list[Machine], total: int
) -> None:
    plan = plan_of(machines, range(total), seed)
    jobs = [share_jobs(plan, share).tolist() for share in plan.shares]
    assert sorted(job for share in jobs for job in share) == list(range(total))
    weight_sum = sum(Fraction(machine.weight) for machine in machines)
    for share, machine in zip(plan.shares, machines, strict=True):
        quota = total * Fraction(machine.weight) / weight_sum
        assert share.machine == machine
        assert quota - 1 < share.size < quota + 1


def _owner_by_item(plan: Plan, items: list[int]) -> dict[int, str]:
    return {
        items[job]: share.machine.name for share in plan.shares for job in share_jobs(plan, share)
    }


@given(seeds, machine_lists, st.integers(0, 600), st.integers(1, 60))
def test_adding_k_jobs_moves_at_most_about_k_per_machine_boundary(
    seed: bytes, machines: list[Machine], n: int, k: int
) -> None:
    before = _owner_by_item(plan_of(machines, list(range(n)), seed), list(range(n)))
    grown = list(range(n + k))
    after = _owner_by_item(plan_of(machines, grown, seed), grown)
    moved = sum(1 for item, owner in before.items() if after[item] != owner)
    assert moved <= (len(machines) - 1) * (k + 2)


@given(seeds, machine_lists, st.integers(0, 600), st.floats(0.5, 2.0))
def test_changing_one_weight_moves_jobs_in_proportion_to_the_change(
    seed: bytes, machines: list[Machine], n: int, factor: float
) -> None:
    pool = list(range(n))
    changed = [Machine(machines[0].name, machines[0].perf * factor, machines[0].cores)]
    changed += machines[1:]
    before = _owner_by_item(plan_of(machines, pool, seed), pool)
    after = _owner_by_item(plan_of(changed, pool, seed), pool)
    moved = sum(1 for item, owner in before.items() if after[item] != owner)
    total = sum(machine.weight for machine in machines)
    delta = abs(changed[0].weight - machines[0].weight)
    bound = n * delta / min(total, total - machines[0].weight + changed[0].weight)
    assert moved <= (len(machines) - 1) * (bound + 2)


# --- determinism across processes -----------------------------------------------------------

_CHILD = """
import json
from splitter.campaign.digest import campaign_seed, config_digest
from splitter.campaign.identity import identify_pool
from splitter.campaign.machines import Machine
from splitter.campaign.plan import make_plan
pool = [{"alpha": a, "name": str(a), "tags": ("x", "y")} for a in range(30)] + [None, None]
config = {"job": {"steps": "10", "mode": "fast"}, "results": {"header": "a,b"}}
seed = campaign_seed(config_digest(config))
identity = identify_pool(pool)
machines = [Machine("alpha", 2.0, 4), Machine("beta", 1.5, 8)]
plan = make_plan(seed, identity.digest, machines, identity.keys.words)
print(json.dumps([plan.digest.hex(), plan.order.tolist(), identity.keys.hex_of(range(32))]))
"""


@pytest.mark.parametrize("hash_seed", ["0", "12345"])
def test_order_and_digest_do_not_depend_on_the_hash_seed(hash_seed: str) -> None:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    child = subprocess.run(
        [sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=True
    )
    in_process = io.StringIO()
    with contextlib.redirect_stdout(in_process):
        exec(_CHILD, {})
    assert json.loads(child.stdout) == json.loads(in_process.getvalue())
