"""Tests for splitter.campaign.digest: the digest chain and how digests are shown and checked."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from splitter.campaign.canonical import tagged_digest
from splitter.campaign.digest import (
    campaign_seed,
    config_digest,
    digest_matches,
    full_hex,
    group_digest,
    parse_expected_digest,
    plan_digest,
    rescue_digest,
)
from splitter.campaign.machines import Machine, parse_machines
from splitter.errors import UsageError

CONFIG = {"job": {"steps": "10"}, "run": {"workers": "2"}}
MACHINES = [Machine("alpha", 2.0, 4), Machine("beta", 1.5, 8)]
SEED = campaign_seed(config_digest(CONFIG))
POOL = bytes(32)


def test_digest_chain_regression_vectors() -> None:
    assert full_hex(config_digest(CONFIG)) == (
        "713a8a62847c2562073fc36fc0300fe72e787ee4a3e352340313c45e8c3d27ba"
    )
    assert full_hex(SEED) == "803b0678267cbc31f7136c6d3abffd8ec667eb94e4337a1478393dabf8e66bd2"
    plan = plan_digest(SEED, POOL, MACHINES)
    assert full_hex(plan) == "f0aa3c5882112d34a1369327c89c3ccd012080ace66ae1b94379b28b1aa38210"
    assert full_hex(rescue_digest(plan, [5, 3, 3, 9])) == (
        "4fa61958595e3dabce9c865845f17b08e5d02a0492da1fd2d602ea57365be8f1"
    )


def test_config_digest_ignores_section_and_option_order() -> None:
    reordered = {"run": {"workers": "2"}, "job": {"steps": "10"}}
    assert config_digest(reordered) == config_digest(CONFIG)


def test_config_digest_changes_with_any_value() -> None:
    assert config_digest({"job": {"steps": "11"}, "run": {"workers": "2"}}) != config_digest(
        CONFIG
    )
    assert config_digest({"job": {"steps": "10"}}) != config_digest(CONFIG)


def test_campaign_seed_is_32_bytes_and_comes_from_the_config_alone() -> None:
    assert len(SEED) == 32
    assert campaign_seed(config_digest(CONFIG)) == SEED
    other = {"job": {"steps": "10"}, "run": {"workers": "2", "seed": "1"}}
    assert campaign_seed(config_digest(other)) != SEED


def test_digests_of_different_kinds_never_collide_on_the_same_input() -> None:
    assert campaign_seed(bytes(32)) != plan_digest(bytes(32), bytes(32), [])


def test_plan_digest_changes_with_the_pool() -> None:
    assert plan_digest(SEED, b"\x01" * 32, MACHINES) != plan_digest(SEED, POOL, MACHINES)


def test_plan_digest_takes_perf_as_float_and_cores_as_int() -> None:
    as_ints = [Machine("a", 2, 4)]
    as_floats = [Machine("a", 2.0, 4)]
    assert plan_digest(SEED, POOL, as_ints) == plan_digest(SEED, POOL, as_floats)


@pytest.mark.parametrize(
    "machines",
    [
        [Machine("alpha", 2.0, 4), Machine("gamma", 1.5, 8)],
        [Machine("alpha", 2.5, 4), Machine("beta", 1.5, 8)],
        [Machine("alpha", 2.0, 5), Machine("beta", 1.5, 8)],
        [Machine("beta", 1.5, 8), Machine("alpha", 2.0, 4)],
        [Machine("alpha", 2.0, 4)],
    ],
)
def test_plan_digest_changes_with_any_machine_or_their_order(machines: list[Machine]) -> None:
    assert plan_digest(SEED, POOL, machines) != plan_digest(SEED, POOL, MACHINES)


def test_plan_digest_changes_with_the_campaign_seed() -> None:
    assert plan_digest(bytes(32), POOL, MACHINES) != plan_digest(SEED, POOL, MACHINES)


def test_plan_digest_of_a_long_form_machine_with_only_cores_is_the_short_forms() -> None:
    (long_form,) = parse_machines('{"alpha": {"perf": 2.0, "cores": 4}}', "m.json")
    assert plan_digest(SEED, POOL, [long_form, MACHINES[1]]) == plan_digest(SEED, POOL, MACHINES)


@pytest.mark.parametrize(
    "alpha",
    [
        Machine("alpha", 2.0, 4, gpus=1),
        Machine("alpha", 2.0, 4, mem=2**30),
        Machine("alpha", 2.0, 4, tags=("cuda",)),
        Machine("alpha", 2.0, 4, resources=(("licences", 2),)),
    ],
)
def test_plan_digest_changes_with_any_capacity(alpha: Machine) -> None:
    assert plan_digest(SEED, POOL, [alpha, MACHINES[1]]) != plan_digest(SEED, POOL, MACHINES)


@given(st.lists(st.integers(0, 10**9), max_size=50), st.randoms())
def test_rescue_digest_ignores_order_and_duplicates(ids: list[int], rng: random.Random) -> None:
    shuffled = ids + ids[: len(ids) // 2]
    rng.shuffle(shuffled)
    assert rescue_digest(SEED, shuffled) == rescue_digest(SEED, sorted(set(ids)))


def test_rescue_digest_is_over_the_sorted_unique_ids_as_an_int64_array() -> None:
    expected = tagged_digest("splitter/rescue/v1", SEED, np.array([3, 5, 9], dtype=np.int64))
    assert rescue_digest(SEED, [9, 3, 5, 3]) == expected
    assert rescue_digest(SEED, np.array([9, 3, 5], dtype=np.uint32)) == expected


def test_rescue_digest_changes_with_the_ids_and_the_plan() -> None:
    assert rescue_digest(SEED, [1, 2]) != rescue_digest(SEED, [1, 3])
    assert rescue_digest(SEED, [1, 2]) != rescue_digest(bytes(32), [1, 2])
    assert rescue_digest(SEED, []) != rescue_digest(SEED, [0])


def test_rescue_digest_takes_a_million_ids() -> None:
    ids = np.arange(10**6)[::-1]
    assert rescue_digest(SEED, ids) == rescue_digest(SEED, range(10**6))


def test_rescue_digest_rejects_ids_that_are_not_integers() -> None:
    with pytest.raises(
        TypeError, match=r"^job ids must be integers, got an array of dtype float64$"
    ):
        rescue_digest(SEED, [1.5])  # type: ignore[list-item]


def test_group_digest_shows_the_first_eight_bytes_in_groups_of_four() -> None:
    digest = bytes.fromhex("3f2a9c1b77e0d4aa") + bytes(24)
    assert group_digest(digest) == "3f2a 9c1b 77e0 d4aa"
    assert full_hex(digest) == "3f2a9c1b77e0d4aa" + "00" * 24


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3f2a9c1b", "3f2a9c1b"),
        ("3F2A 9C1B 77E0 D4AA", "3f2a9c1b77e0d4aa"),
        (" 3f2a9c1b\t", "3f2a9c1b"),
        ("a" * 64, "a" * 64),
    ],
)
def test_parse_expected_digest_normalises_to_lowercase_hex(text: str, expected: str) -> None:
    assert parse_expected_digest(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3f2a", "--expect-digest '3f2a' is too short: give at least 8 hex digits of the "
         "digest shown by `plan`"),
        ("", "--expect-digest '' is too short: give at least 8 hex digits of the digest "
         "shown by `plan`"),
        ("3f2a-9c1b", "--expect-digest '3f2a-9c1b' is not hexadecimal: give at least 8 hex "
         "digits of the digest shown by `plan`"),
        ("a" * 65, f"--expect-digest '{'a' * 65}' is too long: give at most 64 hex digits "
         "of the digest shown by `plan`"),
    ],
)  # fmt: skip
def test_parse_expected_digest_rejects_unusable_prefixes(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_expected_digest(text)
    assert str(info.value) == message


def test_digest_matches_a_prefix_of_the_full_hex() -> None:
    digest = bytes.fromhex("3f2a9c1b77e0d4aa") + bytes(24)
    assert digest_matches("3f2a9c1b", digest)
    assert digest_matches(full_hex(digest), digest)
    assert not digest_matches("3f2a9c1c", digest)
    assert not digest_matches("9c1b77e0", digest)
