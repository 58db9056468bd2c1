"""Tests for splitter.campaign.identity: job keys by content, repeats, the pool digest."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from splitter.campaign import canonical
from splitter.campaign.canonical import materialize_pool
from splitter.campaign.identity import (
    KEY_HEX_DIGITS,
    LONG_ENCODING,
    JobKeys,
    identify_pool,
    key_texts,
    parse_key_texts,
)
from splitter.errors import UsageError


def keys(pool: Any, key: Any = None) -> list[str]:
    identity = identify_pool(materialize_pool(pool), key)
    return identity.keys.hex_of(range(len(identity.keys)))


items = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.tuples(st.integers(-5, 5), st.floats(allow_nan=False)),
)


def test_job_key_regression_vectors() -> None:
    assert keys([0, "a", (1, 0.5), None]) == [
        KEY_OF_ZERO, KEY_OF_A, KEY_OF_PAIR, KEY_OF_NONE,
    ]  # fmt: skip


def test_a_key_is_32_lowercase_hex_digits() -> None:
    for key in keys([1, "x", None, (1, 2)]):
        assert len(key) == KEY_HEX_DIGITS
        assert key == key.lower()
        int(key, 16)


def test_equal_items_are_distinct_jobs_by_their_occurrence() -> None:
    repeated = keys([None] * 1000)
    assert len(set(repeated)) == 1000
    assert repeated[0] == keys([None])[0]


def test_the_kth_repeat_of_an_item_keeps_its_key_wherever_the_repeats_sit() -> None:
    spread = keys([None, 1, None, 2, None])
    together = keys([None, None, None, 1, 2])
    assert [spread[0], spread[2], spread[4]] == together[:3]
    assert [spread[1], spread[3]] == together[3:]


@given(st.lists(items, max_size=30), st.lists(items, max_size=10), st.randoms())
def test_a_key_does_not_change_when_other_items_are_added_removed_or_reordered(
    pool: list[Any], others: list[Any], rng: random.Random
) -> None:
    # Distinct items: a repeat's key is defined by its occurrence, tested above.
    distinct = list({canonical.encode(item): item for item in pool}.values())
    alone = dict(zip(keys(distinct), map(canonical.encode, distinct), strict=True))
    fresh = [item for item in others if canonical.encode(item) not in set(alone.values())]
    grown = distinct + list({canonical.encode(item): item for item in fresh}.values())
    rng.shuffle(grown)
    among = dict(zip(keys(grown), map(canonical.encode, grown), strict=True))
    assert {key: among[key] for key in alone} == alone


@given(st.integers(-(2**40), 2**40), st.integers(0, 300), st.integers(-7, 7).filter(bool))
def test_a_range_keys_its_items_like_their_list(start: int, count: int, step: int) -> None:
    pool = range(start, start + count * step, step)
    assert keys(pool) == keys(list(pool))


def test_a_range_keys_the_same_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = keys(range(100))
    monkeypatch.setattr(canonical, "_CHUNK_BYTES", 9 * 7)
    assert keys(range(100)) == whole == keys(list(range(100)))


def test_items_of_different_encoding_lengths_in_one_chunk_keep_their_own_keys() -> None:
    mixed = [1, "a", (1, 2), "longer text", None, 2.5]
    assert keys(mixed) == [keys([item])[0] for item in mixed]


def test_an_array_of_rows_keys_each_row_like_the_array_it_is() -> None:
    array = np.arange(12, dtype=np.int32).reshape(4, 3)
    assert keys(array) == keys(list(array))


def test_long_encodings_are_keyed_through_their_digest_and_stay_distinct() -> None:
    long_items = ["x" * (LONG_ENCODING + 1), "y" * (LONG_ENCODING + 1), "x" * LONG_ENCODING]
    found = keys(long_items)
    assert len(set(found)) == 3
    assert found == [keys([item])[0] for item in long_items]


def test_key_hooks_name_each_item() -> None:
    assert keys([object(), object()], key=lambda item: 1)[0] == keys([1])[0]
    assert keys(range(3), key=lambda i: i * 2) == keys([0, 2, 4])


def test_a_key_hook_that_raises_names_the_item_and_the_fix() -> None:
    def broken(item: int) -> int:
        if item == 2:
            raise KeyError("chunk")
        return item

    with pytest.raises(UsageError) as error:
        keys([0, 1, 2], key=broken)
    assert str(error.value) == (
        "the key function raised on job pool item 2 (KeyError: 'chunk'); fix key= so it"
        " returns an encodable value for every item"
    )


def test_the_pool_digest_covers_the_items_in_order() -> None:
    assert identify_pool([1, 2]).digest != identify_pool([2, 1]).digest
    assert identify_pool(range(5)).digest == identify_pool(list(range(5))).digest


def test_key_texts_and_parse_key_texts_round_trip() -> None:
    words = identify_pool(["a", "b", None]).keys.words
    texts = key_texts(words)
    parsed, valid = parse_key_texts([*texts, "not a key", "g" * KEY_HEX_DIGITS])
    assert (parsed[:3] == words).all()
    assert valid.tolist() == [True, True, True, False, False]


def test_find_gives_each_keys_job_id_and_minus_one_for_strangers() -> None:
    pool = JobKeys(identify_pool(list(range(50))).keys.words)
    other = identify_pool([3, 1000, 49]).keys.words
    assert pool.find(other).tolist() == [3, -1, 49]


def test_find_tells_apart_keys_that_share_their_low_word() -> None:
    words = np.array([[7, 1], [7, 2], [9, 3]], dtype=np.uint64)
    pool = JobKeys(words)
    query = np.array([[7, 2], [7, 1], [7, 3], [9, 3]], dtype=np.uint64)
    assert pool.find(query).tolist() == [1, 0, -1, 2]


KEY_OF_ZERO = "c0ed17b26e39a31c3fc66b82165f498a"
KEY_OF_A = "e6ac8dd99c5fc726bd9b0e3e4843b308"
KEY_OF_PAIR = "d5f142773ae89b338d0b0542ee129c5b"
KEY_OF_NONE = "d4607584663c0366d84085a2a9851ea7"
