"""Keyed 64-bit mixing over NumPy arrays: the arithmetic behind job keys and the plan order.

Integer arithmetic only (wrapping uint64 multiply, xor, shift), so every
platform and NumPy version computes the same bits; never a float, never a
NumPy random Generator. ``mix`` is the splitmix64 finaliser (Steele, Lea and
Flood, 2014), a bijection of 64-bit words; ``hash_rows`` runs two keyed lanes
of it over the 64-bit words of equal-length byte rows, one row per job,
vectorised across the rows.
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import numpy.typing as npt

__all__ = ["hash_rows", "lane_keys", "mix"]

_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_LENGTH = 0x9E3779B97F4A7C15
_WORD = 1 << 64
_ROTATE = np.uint64(32)
# Rows hashed per NumPy call: small enough that the working arrays stay in cache.
_BLOCK_ROWS = 1 << 16

U64Array = npt.NDArray[np.uint64]


def lane_keys(domain: str) -> tuple[int, int]:
    """Two 64-bit keys for ``domain``, from BLAKE2b: each use of the mixer has its own."""
    digest = hashlib.blake2b(domain.encode("ascii"), digest_size=16).digest()
    key_0, key_1 = struct.unpack("<QQ", digest)
    return key_0, key_1


def mix(values: U64Array, scratch: U64Array | None = None) -> U64Array:
    """Apply the splitmix64 finaliser to ``values`` in place, and return them."""
    if scratch is None:
        scratch = np.empty_like(values)
    for shift, multiplier in ((30, _MIX_1), (27, _MIX_2)):
        np.right_shift(values, np.uint64(shift), out=scratch)
        values ^= scratch
        values *= multiplier
    np.right_shift(values, np.uint64(31), out=scratch)
    values ^= scratch
    return values


def hash_rows(rows: npt.NDArray[np.uint8], keys: tuple[int, int]) -> U64Array:
    """The 128-bit hash of each row of the uint8 matrix ``rows``, as (count, 2) uint64 [lo, hi].

    Each row is read as little-endian 64-bit words (zero-padded to a whole
    word) after its length in bytes; lane a takes ``mix(a ^ word)``, lane b
    ``mix(b + rotate(word, 32))``, and both lanes end mixed with each other.
    A row's hash depends on its bytes and ``keys`` alone, never on the other
    rows or on how the rows were chunked.
    """
    count, width = rows.shape
    out = np.empty((count, 2), dtype=np.uint64)
    for start in range(0, count, _BLOCK_ROWS):
        block = _as_words(rows[start : start + _BLOCK_ROWS])
        out[start : start + len(block)] = _hash_block(block, width, keys)
    return out


def _as_words(rows: npt.NDArray[np.uint8]) -> U64Array:
    count, width = rows.shape
    padded_width = -(-width // 8) * 8
    if padded_width != width or not rows.flags.c_contiguous:
        padded = np.zeros((count, padded_width), dtype=np.uint8)
        padded[:, :width] = rows
        rows = padded
    return rows.view("<u8").astype(np.uint64, copy=False)


def _hash_block(words: U64Array, width: int, keys: tuple[int, int]) -> U64Array:
    count = len(words)
    length = width * _LENGTH % _WORD
    lane_a = np.full(count, keys[0] ^ length, dtype=np.uint64)
    lane_b = np.full(count, (keys[1] + length) % _WORD, dtype=np.uint64)
    scratch = np.empty(count, dtype=np.uint64)
    rotated = np.empty(count, dtype=np.uint64)
    for column in range(words.shape[1]):
        word = words[:, column]
        lane_a ^= word
        mix(lane_a, scratch)
        np.left_shift(word, _ROTATE, out=rotated)
        np.right_shift(word, _ROTATE, out=scratch)
        rotated |= scratch
        lane_b += rotated
        mix(lane_b, scratch)
    low = lane_a ^ lane_b
    mix(low, scratch)
    lane_a *= _MIX_1
    lane_b ^= lane_a
    mix(lane_b, scratch)
    result = np.empty((count, 2), dtype=np.uint64)
    result[:, 0] = low
    result[:, 1] = lane_b
    return result
