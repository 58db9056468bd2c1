"""Tests for splitter.campaign.canonical: the byte encoding, materialising and digesting pools."""

from __future__ import annotations

import datetime
import math
import struct
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from splitter.campaign import canonical
from splitter.campaign.canonical import (
    UnsupportedValue,
    encode,
    materialize_pool,
    tagged_digest,
)
from splitter.campaign.identity import identify_pool
from splitter.errors import UsageError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def u64(n: int) -> bytes:
    return n.to_bytes(8, "little")


class Foo:
    pass


def pool_digest(pool: Any, key: Any = None) -> bytes:
    return identify_pool(materialize_pool(pool), key).digest


# --- encode: exact bytes -------------------------------------------------------------------


def test_encode_scalars_as_tag_and_fixed_width_little_endian_body() -> None:
    assert encode(None) == b"N"
    assert encode(True) == b"T"
    assert encode(False) == b"F"
    assert encode(1) == b"i" + u64(1)
    assert encode(-1) == b"i" + b"\xff" * 8
    assert encode(1.5) == b"f" + struct.pack("<d", 1.5)
    assert encode("é") == b"s" + u64(2) + b"\xc3\xa9"
    assert encode(b"ab") == b"b" + u64(2) + b"ab"


def test_encode_ints_beyond_int64_as_length_and_twos_complement() -> None:
    assert encode(INT64_MAX) == b"i" + b"\xff" * 7 + b"\x7f"
    assert encode(2**63) == b"I" + u64(9) + b"\x00" * 7 + b"\x80\x00"
    assert encode(-(2**63) - 1) == b"I" + u64(9) + b"\xff" * 7 + b"\x7f\xff"


def test_encode_tells_bools_from_ints_and_negative_zero_from_zero() -> None:
    assert encode(True) != encode(1)
    assert encode(False) != encode(0)
    assert encode(-0.0) != encode(0.0)
    assert encode(1.0) != encode(1)


def test_encode_keeps_lone_surrogates_in_strings() -> None:
    assert encode("\udc80") == b"s" + u64(3) + b"\xed\xb2\x80"


def test_encode_treats_bytearray_as_bytes() -> None:
    assert encode(bytearray(b"xy")) == encode(b"xy")


def test_encode_distinguishes_tuples_from_lists() -> None:
    assert encode((1, 2.5, "a")) == bytes.fromhex(
        "74030000000000000069010000000000000066000000000000044073010000000000000061"
    )
    assert encode([1, 2.5, "a"])[:1] == b"l"


def test_encode_sorts_dict_pairs_so_insertion_order_does_not_matter() -> None:
    assert encode({"b": None, "a": [True, b"x"]}) == encode({"a": [True, b"x"], "b": None})
    assert encode({"b": None, "a": [True, b"x"]}) == bytes.fromhex(
        "640200000000000000730100000000000000616c02000000000000005462010000000000000078"
        "730100000000000000624e"
    )


def test_encode_numpy_scalars_by_dtype_unlike_python_numbers() -> None:
    assert encode(np.float32(1.5)) == b"g" + encode("<f4") + struct.pack("<f", 1.5)
    assert encode(np.float64(1.5)) != encode(1.5)
    assert encode(np.int64(3)) != encode(3)
    assert encode(np.bool_(True)) != encode(True)


def test_encode_arrays_by_dtype_shape_and_little_endian_c_order_bytes() -> None:
    array = np.array([[1, 2]], dtype=">i2")
    assert encode(array) == (b"a" + encode("<i2") + u64(2) + u64(1) + u64(2) + b"\x01\x00\x02\x00")
    assert encode(array) == encode(np.array([[1, 2]], dtype="<i2"))
    assert encode(np.asfortranarray(np.arange(6.0).reshape(2, 3))) == encode(
        np.arange(6.0).reshape(2, 3)
    )


def test_encode_ignores_padding_of_aligned_structured_dtypes() -> None:
    aligned = np.dtype([("a", "u1"), ("b", ">f8")], align=True)
    packed = np.dtype([("a", "u1"), ("b", "<f8")])
    values = [(1, 2.5), (3, -1.0)]
    assert aligned.itemsize == 16
    assert encode(np.array(values, dtype=aligned)) == encode(np.array(values, dtype=packed))
    assert encode(np.array(values, dtype=aligned)[0]) == encode(np.array(values, dtype=packed)[0])


def nan_with_bits(bits: int) -> float:
    value: float = struct.unpack("<d", struct.pack("<Q", bits))[0]
    assert math.isnan(value)
    return value


# The sign set (as x86 makes inf - inf), a payload, a signalling NaN: all one NaN.
ODD_NANS = [nan_with_bits(0xFFF8000000000000), nan_with_bits(0x7FF8000000000123),
            nan_with_bits(0x7FF0000000000001)]  # fmt: skip


@pytest.mark.parametrize("odd", ODD_NANS)
def test_every_float_nan_is_encoded_as_the_canonical_nan(odd: float) -> None:
    nan = float("nan")
    assert encode(odd) == encode(nan) == b"f" + struct.pack("<d", nan)
    assert encode([odd, (odd,)]) == encode([nan, (nan,)])
    assert encode({"x": odd}) == encode({"x": nan})


@pytest.mark.parametrize("odd", ODD_NANS)
@pytest.mark.parametrize("dtype", ["<f2", ">f4", "<f8", ">c8", "<c16"])
@np.errstate(invalid="ignore")  # casting a signalling NaN says so
def test_every_numpy_nan_of_a_dtype_is_encoded_as_its_canonical_nan(
    odd: float, dtype: str
) -> None:
    odd_array = np.array([odd, 1.0, odd], dtype="<f8").astype(dtype)
    if odd_array.dtype.kind == "c":
        odd_array.imag = [odd, odd, 2.0]
    plain = np.where(np.isnan(odd_array.real), np.nan, odd_array.real).astype(dtype)
    if odd_array.dtype.kind == "c":
        plain.imag = [np.nan, np.nan, 2.0]
    given_bytes = odd_array.tobytes()
    assert encode(odd_array) == encode(plain)
    assert encode(odd_array[0]) == encode(plain[0])
    assert pool_digest(odd_array) == pool_digest(plain) == pool_digest(list(odd_array))
    assert odd_array.tobytes() == given_bytes  # the jobs still get the values as given


def test_nans_inside_structured_and_subarray_fields_are_canonical() -> None:
    dtype = np.dtype([("a", "<i4"), ("b", [("c", ">f8", (2,)), ("d", "<c8")])])
    odd, plain = np.zeros(3, dtype=dtype), np.zeros(3, dtype=dtype)
    odd["b"]["c"][1, 0] = ODD_NANS[0]
    odd["b"]["d"][2] = complex(1.0, ODD_NANS[1])
    plain["b"]["c"][1, 0] = np.nan
    plain["b"]["d"][2] = complex(1.0, np.nan)
    assert encode(odd) == encode(plain)
    assert pool_digest(odd) == pool_digest(plain) == pool_digest(list(odd))


def test_encode_distinguishes_structured_field_names() -> None:
    first = np.zeros(2, dtype=[("a", "<i4")])
    second = np.zeros(2, dtype=[("b", "<i4")])
    assert encode(first) != encode(second)


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        ({1, 2}, "set"),
        (frozenset(), "frozenset"),
        (Foo(), "Foo"),
        (datetime.date(2024, 1, 1), "date"),
        (np.array([1], dtype=object), "NumPy value of dtype object"),
    ],
)
def test_encode_rejects_values_without_a_canonical_form(value: object, type_name: str) -> None:
    with pytest.raises(UnsupportedValue) as info:
        encode(value)
    assert info.value.type_name == type_name
    assert info.value.value is value
    assert isinstance(info.value, TypeError)


@pytest.mark.skipif(np.dtype(np.longdouble).itemsize <= 8, reason="long double is a double here")
def test_encode_rejects_long_doubles_whose_width_depends_on_the_platform() -> None:
    with pytest.raises(UnsupportedValue, match=r"^NumPy value of dtype float"):
        encode(np.longdouble(1))


def test_encode_rejects_subclasses_of_builtin_types() -> None:
    class Level(int):
        pass

    with pytest.raises(UnsupportedValue, match=r"^Level has no canonical encoding"):
        encode([Level(3)])


def test_tagged_digest_hashes_the_encoding_of_the_domain_and_values() -> None:
    import hashlib

    expected = hashlib.blake2b(encode(("dom", 1, "x")), digest_size=32).digest()
    assert tagged_digest("dom", 1, "x") == expected
    assert tagged_digest("dom", 1) != tagged_digest("other", 1)


# --- encode: properties ---------------------------------------------------------------------

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text() | st.binary()
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=3) | st.integers(), inner, max_size=4)
    ),
    max_leaves=12,
)


def typed(value: Any) -> object:
    """A comparable form that tells apart everything the encoding tells apart."""
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else struct.pack("<d", value))
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(typed(item) for item in value))
    if isinstance(value, dict):
        return ("dict", frozenset((typed(k), typed(v)) for k, v in value.items()))
    return (type(value).__name__, value)


@given(values, values)
def test_encode_is_injective_and_prefix_free(first: object, second: object) -> None:
    a, b = encode(first), encode(second)
    if typed(first) == typed(second):
        assert a == b
    else:
        assert a != b
        assert not a.startswith(b)
        assert not b.startswith(a)


@given(st.dictionaries(st.text(max_size=4), values, max_size=6), st.randoms())
def test_encode_of_a_dict_ignores_insertion_order(mapping: dict[str, object], rng: Any) -> None:
    items = list(mapping.items())
    rng.shuffle(items)
    assert encode(dict(items)) == encode(mapping)


@given(values)
def test_encode_agrees_with_itself_on_equal_rebuilt_values(value: object) -> None:
    assert encode(value) == encode(_rebuild(value))


def _rebuild(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return type(value)(_rebuild(item) for item in value)
    if isinstance(value, dict):
        return {k: _rebuild(v) for k, v in reversed(value.items())}
    if isinstance(value, float) and not math.isnan(value):
        return float(repr(value))
    return value


# --- materialize_pool -----------------------------------------------------------------------


def test_materialize_pool_keeps_sequences_and_arrays_as_they_are() -> None:
    pool_list, pool_tuple, pool_range = [1, 2], (1, 2), range(5)
    array = np.arange(4)
    assert materialize_pool(pool_list) is pool_list
    assert materialize_pool(pool_tuple) is pool_tuple
    assert materialize_pool(pool_range) is pool_range
    assert materialize_pool(array) is array  # type: ignore[comparison-overlap]


def test_materialize_pool_turns_other_iterables_into_lists() -> None:
    def jobs() -> Iterator[int]:
        yield from (3, 1, 2)

    assert materialize_pool(jobs()) == [3, 1, 2]
    assert materialize_pool({"a": 1}.values()) == [1]


@pytest.mark.parametrize(
    ("pool", "message"),
    [
        ("abc", "the job pool is a str, which would make one job per character; "
         "pass a list of jobs instead"),
        (b"abc", "the job pool is a bytes, which would make one job per character; "
         "pass a list of jobs instead"),
        ({"a": 1}, "the job pool is a dict, which would iterate its keys only; "
         "pass list(d.items()) instead"),
        ({1, 2}, "the job pool is a set, which has no stable order; "
         "pass sorted(pool) or a list instead"),
        (frozenset({1}), "the job pool is a frozenset, which has no stable order; "
         "pass sorted(pool) or a list instead"),
        (np.array(5), "the job pool is a 0-d NumPy array, which has no items; "
         "pass a list or an array of one or more dimensions instead"),
        (7, "the job pool is an int, which is not iterable; "
         "pass a list, tuple, range or NumPy array of jobs instead"),
        (range(-(2**63), 2**63), "the job pool range(-9223372036854775808, "
         "9223372036854775808) has too many items; pass a shorter range"),
    ],
)  # fmt: skip
def test_materialize_pool_rejects_pools_without_stable_items(pool: object, message: str) -> None:
    with pytest.raises(UsageError) as info:
        materialize_pool(pool)
    assert str(info.value) == message


# --- pool_digest ----------------------------------------------------------------------------


def test_pool_digest_is_the_tagged_digest_of_the_item_list() -> None:
    pool = [(1, 0.5), (2, 1.0)]
    assert pool_digest(pool) == tagged_digest("splitter/pool/v1", pool)
    assert pool_digest(tuple(pool)) == pool_digest(pool)


def test_pool_digest_regression_vectors() -> None:
    assert pool_digest([(1, 0.5), (2, 1.0)]).hex() == (
        "6680b9367c4a8ad83e4cecb3e0875b6be8b2282278e869b91b9d2ac75129a6e1"
    )
    assert pool_digest(range(10)).hex() == (
        "377a9e8418efab71c8eb01b3a1b57745ae3726c659491d98a915a6b207601530"
    )


def test_pool_digest_regression_vectors_with_nans_of_any_sign_and_payload() -> None:
    assert pool_digest([float("nan"), (1, float("-nan"))]).hex() == (
        "bb769d548f9db5ea61de6b0ded25a0433533c2ece6f72565cf804df3a522e53a"
    )
    assert pool_digest(np.array([np.nan, -np.nan], dtype="<f4")).hex() == (
        "a2b7cbfb1f630741b085a6be0084d76115ee497ad019de3032de0bb1a8afc13f"
    )


def test_pool_digest_depends_on_item_order() -> None:
    assert pool_digest([1, 2]) != pool_digest([2, 1])


def test_pool_digest_encodes_key_of_each_item() -> None:
    pool = [Foo(), Foo()]
    assert pool_digest(pool, key=lambda item: 1) == pool_digest([1, 1])
    assert pool_digest(range(3), key=lambda i: i * 2) == pool_digest([0, 2, 4])


def test_pool_digest_names_the_item_that_cannot_be_encoded() -> None:
    pool: list[object] = [*range(17), Foo()]
    with pytest.raises(UsageError) as info:
        pool_digest(pool)
    assert str(info.value) == (
        "job pool item 17 is a Foo, which has no canonical encoding (supported: None, bool, "
        "int, float, str, bytes, tuple, list, dict, NumPy scalars and arrays); pass key= to "
        "splitter.main to turn each item into an encodable value, e.g. key=lambda item: "
        "item.params"
    )


def test_pool_digest_says_contains_for_a_nested_unsupported_value() -> None:
    with pytest.raises(UsageError, match=r"^job pool item 1 contains a set, which"):
        pool_digest([(1,), (2, {3})])


def test_pool_digest_blames_key_when_key_returns_an_unsupported_value() -> None:
    with pytest.raises(UsageError, match=r"^key\(job pool item 0\) is an object, which"):
        pool_digest([1], key=lambda item: object())


def test_pool_digest_reports_an_unsupported_array_dtype_as_an_item() -> None:
    with pytest.raises(UsageError, match=r"^job pool item 0 is a NumPy value of dtype object"):
        pool_digest(np.array([[1], [2]], dtype=object))


def test_pool_digest_of_an_object_array_encodes_its_python_items() -> None:
    assert pool_digest(np.array([1, "a"], dtype=object)) == pool_digest([1, "a"])


@given(
    st.integers(INT64_MIN, INT64_MAX),
    st.integers(0, 300),
    st.integers(-(2**62), 2**62).filter(lambda step: step != 0),
)
def test_pool_digest_of_a_range_equals_that_of_its_list(start: int, count: int, step: int) -> None:
    pool = range(start, start + count * step, step)
    assert pool_digest(pool) == pool_digest(list(pool))


def test_pool_digest_of_a_range_beyond_int64_falls_back_to_the_item_loop() -> None:
    pool = range(2**63 - 3, 2**63 + 3)
    assert pool_digest(pool) == pool_digest(list(pool))


def test_pool_digest_of_a_range_is_the_same_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = range(-50, 1000, 3)
    whole = pool_digest(pool)
    monkeypatch.setattr(canonical, "_CHUNK_BYTES", 9 * 7)
    assert pool_digest(pool) == whole == pool_digest(list(pool))


def test_pool_digest_flushes_large_item_loops_without_changing_the_digest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = [(i, str(i)) for i in range(100)]
    whole = pool_digest(pool)
    monkeypatch.setattr(canonical, "_FLUSH_BYTES", 10)
    assert pool_digest(pool) == whole


row_dtypes = (
    hnp.integer_dtypes(endianness="?")
    | hnp.unsigned_integer_dtypes(endianness="?")
    | hnp.floating_dtypes(endianness="?", sizes=(16, 32, 64))
    | hnp.complex_number_dtypes(endianness="?")
    | hnp.boolean_dtypes()
    | hnp.datetime64_dtypes(endianness="?")
    | hnp.byte_string_dtypes(min_len=1, max_len=4)
    | hnp.unicode_string_dtypes(endianness="?", min_len=1, max_len=4)
    | hnp.array_dtypes(
        hnp.integer_dtypes(endianness="?") | hnp.floating_dtypes(endianness="?", sizes=(64,)),
        max_size=3,
    )
)


@given(hnp.arrays(row_dtypes, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4)))
def test_pool_digest_of_an_array_equals_that_of_its_rows(array: np.ndarray[Any, Any]) -> None:
    assert pool_digest(array) == pool_digest(list(array))


@given(hnp.arrays(np.float64, st.tuples(st.integers(0, 40), st.integers(0, 3))))
def test_pool_digest_of_an_array_is_the_same_across_chunks(array: np.ndarray[Any, Any]) -> None:
    whole = pool_digest(array)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(canonical, "_CHUNK_BYTES", 1)
        assert pool_digest(array) == whole == pool_digest(list(array))


def test_pool_digest_of_an_aligned_structured_array_ignores_padding() -> None:
    aligned = np.zeros(3, dtype=np.dtype([("a", "u1"), ("b", ">f8")], align=True))
    aligned.view(np.uint8)[:] = 0xAB  # garbage in the padding bytes
    aligned["a"], aligned["b"] = [1, 2, 3], [0.5, 1.5, 2.5]
    packed = np.array([(1, 0.5), (2, 1.5), (3, 2.5)], dtype=[("a", "u1"), ("b", "<f8")])
    assert pool_digest(aligned) == pool_digest(packed) == pool_digest(list(aligned))
