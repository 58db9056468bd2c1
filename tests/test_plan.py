"""Tests for splitter.campaign.plan: the job order, the split and the plan's shares."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from splitter.campaign.digest import plan_digest
from splitter.campaign.machines import Machine
from splitter.campaign.plan import (
    Plan,
    Share,
    all_jobs,
    job_order,
    make_plan,
    share_jobs,
    split_counts,
)

SEED = bytes(range(32))
MACHINES = (Machine("alpha", 2.0, 4), Machine("beta", 1.5, 8), Machine("gamma", 1.0, 1))

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


def test_job_order_regression_vector() -> None:
    assert job_order(SEED, 10).tolist() == [7, 4, 3, 2, 6, 5, 0, 1, 9, 8]


@given(seeds, st.integers(0, 3000))
def test_job_order_is_an_int64_permutation(seed: bytes, n: int) -> None:
    order = job_order(seed, n)
    assert order.dtype == np.int64
    assert sorted(order.tolist()) == list(range(n))


def test_job_order_depends_on_the_run_seed() -> None:
    assert job_order(SEED, 50).tolist() != job_order(bytes(32), 50).tolist()


def test_job_order_of_tiny_pools() -> None:
    assert job_order(SEED, 0).tolist() == []
    assert job_order(SEED, 1).tolist() == [0]


def test_job_order_rejects_a_negative_size() -> None:
    with pytest.raises(ValueError, match=r"^n must be at least 0, got -1$"):
        job_order(SEED, -1)


def test_job_order_raises_no_overflow_warnings() -> None:
    with np.errstate(all="raise"):
        assert len(job_order(SEED, 1000)) == 1000


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


def test_make_plan_cuts_contiguous_shares_in_machine_order() -> None:
    plan = make_plan(SEED, MACHINES, 20)
    assert plan == Plan(
        digest=plan_digest(SEED, MACHINES),
        run_seed=SEED,
        total=20,
        shares=(Share(MACHINES[0], 0, 8), Share(MACHINES[1], 8, 19), Share(MACHINES[2], 19, 20)),
    )
    assert [share.size for share in plan.shares] == [8, 11, 1]


def test_plan_regression_vector() -> None:
    plan = make_plan(SEED, MACHINES, 20)
    assert plan.digest.hex() == "5db699c9af416a0fcd5a1b46792cd226caae6a5ab2705ae30d71568011dabdb5"
    assert [share_jobs(plan, share).tolist() for share in plan.shares] == [
        [12, 7, 4, 3, 2, 6, 5, 11],
        [13, 0, 18, 15, 14, 1, 9, 16, 10, 19, 8],
        [17],
    ]


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
    assert make_plan(SEED, machines, 20).digest != make_plan(SEED, MACHINES, 20).digest


def test_share_for_finds_a_machine_by_name() -> None:
    plan = make_plan(SEED, MACHINES, 20)
    assert plan.share_for("beta") == Share(MACHINES[1], 8, 19)
    with pytest.raises(KeyError):
        plan.share_for("delta")


def test_share_jobs_are_the_plan_order_slice_the_host_runs() -> None:
    plan = make_plan(SEED, MACHINES, 20)
    beta = plan.share_for("beta")
    assert share_jobs(plan, beta).tolist() == all_jobs(plan)[8:19].tolist()
    assert all_jobs(plan).tolist() == job_order(SEED, 20).tolist()


def test_share_jobs_refuses_a_share_from_another_plan() -> None:
    plan = make_plan(SEED, MACHINES, 20)
    with pytest.raises(ValueError, match=r"^the share of 'alpha' is not part of this plan$"):
        share_jobs(plan, Share(MACHINES[0], 0, 3))


@given(seeds, machine_lists, st.integers(0, 2000))
def test_shares_are_disjoint_cover_the_pool_and_each_is_within_one_of_its_quota(
    seed: bytes, machines: list[Machine], total: int
) -> None:
    plan = make_plan(seed, machines, total)
    jobs = [share_jobs(plan, share).tolist() for share in plan.shares]
    assert sorted(job for share in jobs for job in share) == list(range(total))
    weight_sum = sum(Fraction(machine.weight) for machine in machines)
    for share, machine in zip(plan.shares, machines, strict=True):
        quota = total * Fraction(machine.weight) / weight_sum
        assert share.machine == machine
        assert quota - 1 < share.size < quota + 1


# --- determinism across processes -----------------------------------------------------------

_CHILD = """
import json
from splitter.campaign.canonical import pool_digest
from splitter.campaign.digest import config_digest, run_seed
from splitter.campaign.machines import Machine
from splitter.campaign.plan import job_order, make_plan
pool = [{"alpha": a, "name": str(a), "tags": ("x", "y")} for a in range(30)]
config = {"job": {"steps": "10", "mode": "fast"}, "results": {"header": "a,b"}}
seed = run_seed(pool_digest(pool), config_digest(config))
machines = [Machine("alpha", 2.0, 4), Machine("beta", 1.5, 8)]
print(json.dumps([make_plan(seed, machines, 30).digest.hex(), job_order(seed, 30).tolist()]))
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
