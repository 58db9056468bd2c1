"""Canonical, prefix-free byte encoding of job pool values, and the pool digest.

Every host must derive the same job keys and digest from the same pool,
whatever its Python, NumPy, OS or PYTHONHASHSEED, so values are encoded by
hand rather than with pickle, ``hash()`` or ``repr``. Each value is one tag byte followed by a
body whose length is fixed or announced up front (little-endian), which makes
the encoding prefix-free and concatenations of encodings unambiguous:

    N / T / F          None / True / False (bools never collide with 0 and 1)
    i + 8              an int in int64 range, two's complement
    I + len + bytes    any other int, two's complement, minimal length
    f + 8              a float, IEEE 754 binary64 (-0.0 exact, every NaN as one NaN)
    s / b + len + raw  str (UTF-8, surrogatepass) / bytes and bytearray
    t / l + count      a tuple / list, then its items
    d + count + pairs  a dict: each key+value encoding, sorted bytewise
    g + dtype + raw    a NumPy scalar
    a + dtype + ndim + shape + raw
                       a NumPy array, C order

NumPy data is normalised to little-endian and packed (no padding bytes) and
its dtype is written as a canonical description, so byte order and alignment
never change a digest. Every NaN of a float or complex dtype, in a scalar, an
array or a structured field, is encoded as that dtype's one canonical NaN
(the positive quiet NaN of ``float("nan")`` and ``np.nan``): CPUs differ in
the sign and payload bits that ``inf - inf`` or ``0 * inf`` produce, and a
digest must not. Jobs still receive the values as they were given.

Object dtypes, NumPy 2's variable-width StringDType and long doubles (whose
width and padding differ between platforms) have no canonical encoding.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import UnionType
from typing import Any, cast

import numpy as np

from splitter.errors import UsageError

__all__ = [
    "EncodedChunk",
    "UnsupportedValue",
    "encode",
    "encoded_chunks",
    "materialize_pool",
    "pool_header",
    "tagged_digest",
]

_T_NONE, _T_TRUE, _T_FALSE = ord("N"), ord("T"), ord("F")
_T_INT, _T_BIGINT, _T_FLOAT = ord("i"), ord("I"), ord("f")
_T_STR, _T_BYTES, _T_TUPLE, _T_LIST = ord("s"), ord("b"), ord("t"), ord("l")
_T_DICT, _T_SCALAR, _T_ARRAY = ord("d"), ord("g"), ord("a")

_PACK_LEN = struct.Struct("<BQ").pack
_PACK_INT = struct.Struct("<Bq").pack
_PACK_FLOAT = struct.Struct("<Bd").pack
_PACK_U64 = struct.Struct("<Q").pack
_CANONICAL_NAN = _PACK_FLOAT(_T_FLOAT, float("nan"))  # a NaN is never == itself

_POOL_DOMAIN = "splitter/pool/v1"
# Bytes buffered before each hash update, and the size of vectorised chunks:
# large enough to amortise the calls, small enough to bound memory.
_FLUSH_BYTES = 1 << 20
_CHUNK_BYTES = 16 << 20
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_DTYPE_KINDS = "biufcSUVMm"
_REJECTED_POOLS: tuple[tuple[type | UnionType, str], ...] = (
    (str | bytes | bytearray, "would make one job per character; pass a list of jobs instead"),
    (dict, "would iterate its keys only; pass list(d.items()) instead"),
    (set | frozenset, "has no stable order; pass sorted(pool) or a list instead"),
)
_SUPPORTED = "None, bool, int, float, str, bytes, tuple, list, dict, NumPy scalars and arrays"


class UnsupportedValue(TypeError):
    """A value with no canonical encoding; ``type_name`` names what it is."""

    def __init__(self, value: object, type_name: str | None = None) -> None:
        self.value = value
        self.type_name = type_name or type(value).__name__
        super().__init__(f"{self.type_name} has no canonical encoding (supported: {_SUPPORTED})")


def encode(value: object) -> bytes:
    """Return the canonical encoding of ``value``; raise UnsupportedValue if it has none."""
    out = bytearray()
    _encode_into(value, out)
    return bytes(out)


def tagged_digest(domain: str, *values: object) -> bytes:
    """Return the 32-byte BLAKE2b digest of ``encode((domain, *values))``."""
    return hashlib.blake2b(encode((domain, *values)), digest_size=32).digest()


def _encode_into(value: Any, out: bytearray) -> None:
    # One exact-type dispatch, most frequent job-item types first: this loop
    # dominates the digest of a large pool. Subclasses (IntEnum, np.float64
    # as a float...) deliberately do not match the builtin branches.
    kind = type(value)
    if kind is int:
        try:
            out += _PACK_INT(_T_INT, value)
        except struct.error:
            length = (value.bit_length() + 8) // 8
            out += _PACK_LEN(_T_BIGINT, length)
            out += value.to_bytes(length, "little", signed=True)
    elif kind is float:
        out += _PACK_FLOAT(_T_FLOAT, value) if value == value else _CANONICAL_NAN
    elif kind is tuple or kind is list:
        out += _PACK_LEN(_T_TUPLE if kind is tuple else _T_LIST, len(value))
        for item in value:
            # Inline the commonest items to save a call each (a third of the time).
            if type(item) is float:
                out += _PACK_FLOAT(_T_FLOAT, item) if item == item else _CANONICAL_NAN
            elif type(item) is int and _INT64_MIN <= item <= _INT64_MAX:
                out += _PACK_INT(_T_INT, item)
            else:
                _encode_into(item, out)
    elif kind is str:
        data = value.encode("utf-8", "surrogatepass")
        out += _PACK_LEN(_T_STR, len(data))
        out += data
    elif kind is bool:
        out.append(_T_TRUE if value else _T_FALSE)
    elif value is None:
        out.append(_T_NONE)
    elif kind is bytes or kind is bytearray:
        out += _PACK_LEN(_T_BYTES, len(value))
        out += value
    elif kind is dict:
        _encode_dict(value, out)
    elif kind is np.ndarray:
        _encode_array(value, out)
    elif isinstance(value, np.generic):
        _encode_scalar(value, out)
    else:
        raise UnsupportedValue(value)


def _encode_dict(value: dict[Any, Any], out: bytearray) -> None:
    # Sorting the encoded pairs makes insertion order (and so hash seeds) moot.
    pairs = []
    for key, item in value.items():
        pair = bytearray()
        _encode_into(key, pair)
        _encode_into(item, pair)
        pairs.append(bytes(pair))
    pairs.sort()
    out += _PACK_LEN(_T_DICT, len(pairs))
    out += b"".join(pairs)


def _encode_array(value: np.ndarray[Any, Any], out: bytearray) -> None:
    packed, description = _canonical_dtype_of(value)
    out += _array_header(description, value.shape)
    out += _canonical_nans(value.astype(packed, copy=False)).tobytes()


def _encode_scalar(value: np.generic, out: bytearray) -> None:
    packed, description = _canonical_dtype_of(value)
    out.append(_T_SCALAR)
    out += description
    out += _canonical_nans(np.asarray(value).astype(packed)).tobytes()


def _canonical_nans(block: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``block``, or a copy of it whose every NaN is its dtype's canonical NaN."""
    fixed = block
    for path in _float_fields(block.dtype):
        leaf = _field(block, path)
        if not np.isnan(leaf).any():
            continue
        if fixed is block:
            fixed = block.copy()  # never change the caller's data
        target = _field(fixed, path)
        for part in (target.real, target.imag) if target.dtype.kind == "c" else (target,):
            part[np.isnan(part)] = np.nan
    return fixed


def _field(block: np.ndarray[Any, Any], path: tuple[str, ...]) -> np.ndarray[Any, Any]:
    for name in path:
        block = block[name]
    return block


@lru_cache(maxsize=256)
def _float_fields(dtype: np.dtype[Any]) -> tuple[tuple[str, ...], ...]:
    """The field paths of ``dtype`` holding floats or complex numbers (``()``: itself)."""
    if dtype.names is not None:
        return tuple((name, *path) for name in dtype.names for path in _float_fields(dtype[name]))
    base = dtype.subdtype[0] if dtype.subdtype is not None else dtype
    return ((),) if base.kind in "fc" else ()


def _array_header(description: bytes, shape: tuple[int, ...]) -> bytes:
    dims = b"".join(_PACK_U64(size) for size in shape)
    return bytes([_T_ARRAY]) + description + _PACK_U64(len(shape)) + dims


def _canonical_dtype_of(value: np.ndarray[Any, Any] | np.generic) -> tuple[np.dtype[Any], bytes]:
    try:
        return _canonical_dtype(value.dtype)
    except UnsupportedValue as exc:
        raise UnsupportedValue(value, exc.type_name) from None


@lru_cache(maxsize=256)
def _canonical_dtype(dtype: np.dtype[Any]) -> tuple[np.dtype[Any], bytes]:
    """Return the packed little-endian twin of ``dtype`` and its encoded description."""
    packed, description = _describe_dtype(dtype)
    return packed, encode(description)


def _describe_dtype(dtype: np.dtype[Any]) -> tuple[np.dtype[Any], object]:
    if dtype.names is not None:
        fields = [(name, _describe_dtype(dtype[name])) for name in dtype.names]
        packed = np.dtype([(name, sub[0]) for name, sub in fields])
        return packed, ("struct", [(name, sub[1]) for name, sub in fields])
    if dtype.subdtype is not None:
        base, shape = dtype.subdtype
        packed_base, base_description = _describe_dtype(base)
        return np.dtype((packed_base, shape)), ("sub", base_description, tuple(shape))
    long_double = (dtype.kind == "f" and dtype.itemsize > 8) or (
        dtype.kind == "c" and dtype.itemsize > 16
    )
    if dtype.kind not in _DTYPE_KINDS or long_double:
        raise UnsupportedValue(dtype, f"NumPy value of dtype {dtype}")
    little = dtype.newbyteorder("<")
    return little, little.str


def materialize_pool(pool: object) -> Sequence[Any]:
    """Return the job pool as a sequence with a stable order, or raise UsageError.

    A NumPy array of one or more dimensions is returned as it is: it is not a
    registered Sequence, but it has the length, indexing and iteration of one.
    """
    if isinstance(pool, list | tuple):
        return pool
    if type(pool) is np.ndarray and pool.ndim > 0:
        return cast(Sequence[Any], pool)
    if isinstance(pool, range):
        try:
            len(pool)
        except OverflowError:
            raise UsageError(
                f"the job pool {pool} has too many items; pass a shorter range"
            ) from None
        return pool
    reason = _pool_rejection(pool)
    if reason is not None:
        raise UsageError(reason)
    if not isinstance(pool, Iterable):
        name = type(pool).__name__
        raise UsageError(
            f"the job pool is {_article(name)} {name}, which is not iterable; "
            "pass a list, tuple, range or NumPy array of jobs instead"
        )
    return list(pool)


def _pool_rejection(pool: object) -> str | None:
    for kinds, why in _REJECTED_POOLS:
        if isinstance(pool, kinds):
            name = type(pool).__name__
            return f"the job pool is {_article(name)} {name}, which {why}"
    if isinstance(pool, np.ndarray) and pool.ndim == 0:
        return (
            "the job pool is a 0-d NumPy array, which has no items; "
            "pass a list or an array of one or more dimensions instead"
        )
    return None


@dataclass(frozen=True)
class EncodedChunk:
    """The canonical encodings of consecutive pool items, concatenated in pool order.

    ``rows`` is set when every item's encoding has the same length: then it
    is the (count, width) uint8 matrix of them, and ``data`` its bytes.
    Otherwise ``ends`` holds each item's end offset in ``data``.
    """

    data: bytes | np.ndarray[Any, Any]
    count: int
    rows: np.ndarray[Any, Any] | None = None
    ends: np.ndarray[Any, Any] | None = None


def encoded_chunks(
    pool: Sequence[Any] | np.ndarray[Any, Any], key: Callable[[Any], object] | None = None
) -> Iterator[EncodedChunk]:
    """The canonical encodings of the pool's items (of ``key(item)`` with ``key``), in chunks.

    Ranges and NumPy arrays take vectorised paths that give the same bytes as
    the item loop. An item with no encoding, or a ``key`` that raises, is a
    UsageError naming the item.
    """
    if key is None and isinstance(pool, range) and _within_int64(pool):
        return _range_chunks(pool)
    if key is None and type(pool) is np.ndarray and _rows_are_fixed(pool):
        return _array_chunks(pool)
    return _item_chunks(pool, key)


def pool_header(count: int) -> bytes:
    """The bytes before the items' encodings in the pool digest: ``(domain, [items...])``."""
    return _PACK_LEN(_T_TUPLE, 2) + encode(_POOL_DOMAIN) + _PACK_LEN(_T_LIST, count)


def _item_chunks(
    pool: Iterable[Any], key: Callable[[Any], object] | None
) -> Iterator[EncodedChunk]:
    out = bytearray()
    ends: list[int] = []
    for index, item in enumerate(pool):
        value = item if key is None else _keyed(key, item, index)
        try:
            _encode_into(value, out)
        except UnsupportedValue as exc:
            raise UsageError(
                _unsupported_item_message(index, value, exc, key is not None)
            ) from exc
        ends.append(len(out))
        if len(out) >= _FLUSH_BYTES:
            yield _chunk_of(bytes(out), ends)
            out.clear()
            ends.clear()
    if ends:
        yield _chunk_of(bytes(out), ends)


def _keyed(key: Callable[[Any], object], item: object, index: int) -> object:
    try:
        return key(item)
    except Exception as exc:
        problem = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise UsageError(
            f"the key function raised on job pool item {index} ({problem}); fix key= so it"
            " returns an encodable value for every item"
        ) from None


def _chunk_of(data: bytes, ends: list[int]) -> EncodedChunk:
    offsets = np.array(ends, dtype=np.int64)
    width = int(offsets[0])
    if np.all(np.diff(offsets) == width):
        rows = np.frombuffer(data, dtype=np.uint8).reshape(len(offsets), width)
        return EncodedChunk(data, len(offsets), rows=rows)
    return EncodedChunk(data, len(offsets), ends=offsets)


def _unsupported_item_message(index: int, item: object, exc: UnsupportedValue, keyed: bool) -> str:
    subject = f"key(job pool item {index})" if keyed else f"job pool item {index}"
    verb = "is" if exc.value is item else "contains"
    return (
        f"{subject} {verb} {_article(exc.type_name)} {exc.type_name}, which has no canonical "
        f"encoding (supported: {_SUPPORTED}); pass key= to splitter.main to turn each item "
        "into an encodable value, e.g. key=lambda item: item.params"
    )


def _article(name: str) -> str:
    return "an" if name[:1].lower() in "aeiou" else "a"


def _within_int64(pool: range) -> bool:
    return len(pool) == 0 or all(_INT64_MIN <= end <= _INT64_MAX for end in (pool[0], pool[-1]))


def _range_chunks(pool: range) -> Iterator[EncodedChunk]:
    # Each item is tag + int64. Values are built in wrapping uint64 arithmetic,
    # exact modulo 2**64, hence exact because every item lies in int64.
    rows_per_chunk = _CHUNK_BYTES // 9
    step = np.uint64(pool.step % (1 << 64))
    for start in range(0, len(pool), rows_per_chunk):
        count = min(rows_per_chunk, len(pool) - start)
        values = np.arange(count, dtype=np.uint64) * step + np.uint64(pool[start] % (1 << 64))
        raw = values.astype("<u8", copy=False).view(np.uint8).reshape(count, 8)
        yield _rows_chunk(bytes([_T_INT]), raw)


def _rows_are_fixed(pool: np.ndarray[Any, Any]) -> bool:
    # A 1-D str/bytes array yields np.str_/np.bytes_ items that drop trailing
    # NULs, so their dtypes vary per item; those take the item loop instead.
    # Unsupported dtypes also go there, to fail with the item loop's message.
    if pool.ndim == 1 and pool.dtype.kind in "SU":
        return False
    try:
        _canonical_dtype(pool.dtype)
    except UnsupportedValue:
        return False
    return True


def _array_chunks(pool: np.ndarray[Any, Any]) -> Iterator[EncodedChunk]:
    packed, description = _canonical_dtype(pool.dtype)
    if pool.ndim == 1:
        prefix = bytes([_T_SCALAR]) + description
    else:
        prefix = _array_header(description, pool.shape[1:])
    row_bytes = packed.itemsize * int(np.prod(pool.shape[1:], dtype=np.int64))
    rows_per_chunk = max(1, _CHUNK_BYTES // (len(prefix) + row_bytes))
    for start in range(0, len(pool), rows_per_chunk):
        block = np.ascontiguousarray(pool[start : start + rows_per_chunk], dtype=packed)
        block = _canonical_nans(block)
        raw = np.frombuffer(block, dtype=np.uint8).reshape(len(block), row_bytes)
        yield _rows_chunk(prefix, raw)


def _rows_chunk(prefix: bytes, raw: np.ndarray[Any, Any]) -> EncodedChunk:
    """The chunk of items whose encodings are ``prefix + row`` for each row of ``raw``."""
    rows = np.empty((raw.shape[0], len(prefix) + raw.shape[1]), dtype=np.uint8)
    rows[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    rows[:, len(prefix) :] = raw
    return EncodedChunk(rows, len(rows), rows=rows)
