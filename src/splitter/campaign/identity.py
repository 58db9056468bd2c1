"""Job identity by content: every job's key, and the pool digest, from the items alone.

    item (or key(item)) --canonical encoding--> content hash (128 bits)
                        --its occurrence among equal items--> job key
    the encodings in pool order --BLAKE2b-256--> pool digest

A job's key depends only on its item's canonical encoding and on how many
equal items come before it in the pool, so ``[None] * 1000`` is 1,000
distinct jobs, and adding, removing or reordering *other* items never
changes it. The content hash is `splitter.campaign.mix.hash_rows` over the
encoding (an encoding longer than `LONG_ENCODING` bytes is first replaced by
its BLAKE2b-256 digest), so ranges and arrays of millions of items hash in
vectorised passes; the k-th repeat of an item (k >= 1) is keyed by the hash
of its content hash and k. Pure: items in, keys out, no files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from splitter.campaign.canonical import EncodedChunk, encoded_chunks, pool_header
from splitter.campaign.mix import hash_rows, lane_keys

__all__ = [
    "KEY_HEX_DIGITS",
    "LONG_ENCODING",
    "JobKeys",
    "PoolIdentity",
    "identify_pool",
    "key_texts",
    "parse_key_matrix",
    "parse_key_texts",
]

KEY_HEX_DIGITS = 32
LONG_ENCODING = 128
"""Encodings longer than this many bytes are hashed through their BLAKE2b digest."""

_CONTENT = lane_keys("splitter/job-key/v1")
_LONG = lane_keys("splitter/job-key/long/v1")
_REPEAT = lane_keys("splitter/job-key/repeat/v1")
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_NIBBLE = np.full(256, 255, dtype=np.uint8)
_NIBBLE[_HEX] = np.arange(16, dtype=np.uint8)

Words = npt.NDArray[np.uint64]


class JobKeys:
    """The pool's job keys in pool order: ``words[i]`` is job i's key as [low, high] words.

    A key's text (`hex`) is its 16 bytes, low word first, each little-endian,
    as 32 lowercase hex digits: the results' ``job_key`` column.
    """

    def __init__(self, words: Words) -> None:
        self.words = words
        self._index: _KeyIndex | None = None

    def __len__(self) -> int:
        return len(self.words)

    def raw(self, job_id: int) -> bytes:
        """Job ``job_id``'s key as 16 bytes."""
        return bytes(self.words[job_id].astype("<u8").tobytes())

    def hex(self, job_id: int) -> str:
        """Job ``job_id``'s key as 32 hex digits."""
        return self.raw(job_id).hex()

    def hex_of(self, job_ids: npt.ArrayLike) -> list[str]:
        """The keys of ``job_ids`` as hex text, vectorised."""
        return key_texts(self.words[np.asarray(job_ids, dtype=np.int64)])

    def find(self, words: Words) -> npt.NDArray[np.int64]:
        """The job id of each key in ``words`` ((count, 2) uint64), -1 where it is not a job's."""
        if self._index is None:
            self._index = _KeyIndex(self.words)
        return self._index.find(words)


@dataclass(frozen=True)
class PoolIdentity:
    """What the items alone determine: the pool digest and each job's key."""

    digest: bytes
    keys: JobKeys


def identify_pool(
    items: Sequence[Any] | np.ndarray[Any, Any], key: Callable[[Any], object] | None = None
) -> PoolIdentity:
    """The pool digest and the job keys of ``items`` (with ``key``: of each ``key(item)``)."""
    hasher = hashlib.blake2b(digest_size=32)
    hasher.update(pool_header(len(items)))
    content = np.empty((len(items), 2), dtype=np.uint64)
    done = 0
    for chunk in encoded_chunks(items, key):
        hasher.update(chunk.data.data if isinstance(chunk.data, np.ndarray) else chunk.data)
        content[done : done + chunk.count] = _content_hashes(chunk)
        done += chunk.count
    # A range holds no two equal items: no repeats to look for.
    keys = content if isinstance(items, range) else _with_repeats(content)
    return PoolIdentity(hasher.digest(), JobKeys(keys))


def key_texts(words: Words) -> list[str]:
    """Keys ((count, 2) uint64) as 32-digit hex strings."""
    raw = words.astype("<u8").view(np.uint8).reshape(len(words), 16)
    text = np.empty((len(words), KEY_HEX_DIGITS), dtype=np.uint8)
    text[:, 0::2] = _HEX[raw >> 4]
    text[:, 1::2] = _HEX[raw & 15]
    return [key.decode("ascii") for key in text.view(f"S{KEY_HEX_DIGITS}").ravel().tolist()]


def parse_key_texts(texts: Sequence[str]) -> tuple[Words, npt.NDArray[np.bool_]]:
    """Hex key texts back as (count, 2) uint64 words, and which texts were valid keys."""
    joined = "".join(
        text if len(text) == KEY_HEX_DIGITS else "-" * KEY_HEX_DIGITS for text in texts
    )
    data = np.frombuffer(joined.encode("ascii", "replace"), dtype=np.uint8)
    return parse_key_matrix(data.reshape(len(texts), KEY_HEX_DIGITS))


def parse_key_matrix(text: npt.NDArray[np.uint8]) -> tuple[Words, npt.NDArray[np.bool_]]:
    """Rows of 32 hex digit bytes back as (count, 2) uint64 words, and which rows were keys."""
    nibbles = _NIBBLE[text]
    valid = ~np.any(nibbles == 255, axis=1)
    raw = (nibbles[:, 0::2] << 4 | nibbles[:, 1::2]).astype(np.uint8)
    words = np.ascontiguousarray(raw).view("<u8").astype(np.uint64).reshape(len(text), 2)
    return words, valid


def _content_hashes(chunk: EncodedChunk) -> Words:
    if chunk.rows is not None:
        return _hash_encodings(chunk.rows)
    assert chunk.ends is not None
    buffer = np.frombuffer(chunk.data, dtype=np.uint8)
    lengths = np.diff(chunk.ends, prepend=0)
    starts = chunk.ends - lengths
    out = np.empty((chunk.count, 2), dtype=np.uint64)
    for length in np.unique(lengths).tolist():
        chosen = np.flatnonzero(lengths == length)
        if len(chosen) == 1:
            begin = int(starts[chosen[0]])
            rows = buffer[begin : begin + length].reshape(1, length)
        else:
            rows = buffer[starts[chosen, None] + np.arange(length)]
        out[chosen] = _hash_encodings(rows)
    return out


def _hash_encodings(rows: npt.NDArray[np.uint8]) -> Words:
    if rows.shape[1] <= LONG_ENCODING:
        return hash_rows(rows, _CONTENT)
    digests = b"".join(hashlib.blake2b(row.tobytes(), digest_size=32).digest() for row in rows)
    return hash_rows(np.frombuffer(digests, dtype=np.uint8).reshape(len(rows), 32), _LONG)


def _with_repeats(content: Words) -> Words:
    """The job keys: each content hash, or for the k-th repeat (k >= 1) a hash of it and k.

    Repeats are found by one sort of the hashes' low words with the index in
    the low bits, so equal items sit together in pool order; only the runs of
    equal low words are looked at further.
    """
    count = len(content)
    if count < 2:
        return content
    members = _runs_of_equal_low_words(content[:, 0])
    if not len(members):
        return content
    same = content[members]
    order = np.lexsort((members, same[:, 0], same[:, 1]))
    members, same = members[order], same[order]
    starts = np.ones(len(members), dtype=bool)
    starts[1:] = np.any(same[1:] != same[:-1], axis=1)
    positions = np.arange(len(members))
    occurrence = positions - np.maximum.accumulate(np.where(starts, positions, 0))
    repeated = occurrence > 0
    if not repeated.any():
        return content
    rows = np.empty((int(repeated.sum()), 24), dtype=np.uint8)
    rows[:, :16] = same[repeated].astype("<u8").view(np.uint8).reshape(-1, 16)
    rows[:, 16:] = occurrence[repeated].astype("<u8").view(np.uint8).reshape(-1, 8)
    keys = content.copy()
    keys[members[repeated]] = hash_rows(rows, _REPEAT)
    return keys


def _runs_of_equal_low_words(low: Words) -> npt.NDArray[np.int64]:
    """The indices whose low word, top bits only, equals another index's: sorted, no repeats."""
    bits = np.uint64(max(len(low) - 1, 1).bit_length())
    packed = low >> bits
    packed <<= bits
    packed |= np.arange(len(low), dtype=np.uint64)
    packed.sort()
    top = packed >> bits
    equal = top[1:] == top[:-1]
    if not equal.any():
        return np.empty(0, dtype=np.int64)
    inside = np.zeros(len(low), dtype=bool)
    inside[1:] |= equal
    inside[:-1] |= equal
    return (packed[inside] & ((np.uint64(1) << bits) - np.uint64(1))).astype(np.int64)


class _KeyIndex:
    """Finds job ids by key: a sort of the low words, each match checked on the high word."""

    def __init__(self, words: Words) -> None:
        self.words = words
        self.order = np.argsort(words[:, 0], kind="stable")
        self.low = words[self.order, 0]
        repeated = self.low[1:] == self.low[:-1]
        self.shared = set(self.low[1:][repeated].tolist())
        self.by_key: dict[bytes, int] = {}
        if self.shared:
            for job_id in np.flatnonzero(np.isin(words[:, 0], list(self.shared))).tolist():
                self.by_key[words[job_id].tobytes()] = job_id

    def find(self, words: Words) -> npt.NDArray[np.int64]:
        found = np.full(len(words), -1, dtype=np.int64)
        if not len(self.low) or not len(words):
            return found
        at = np.minimum(np.searchsorted(self.low, words[:, 0]), len(self.low) - 1)
        candidates = self.order[at]
        match = (self.low[at] == words[:, 0]) & (self.words[candidates, 1] == words[:, 1])
        found[match] = candidates[match]
        if self.shared:
            for row in np.flatnonzero(np.isin(words[:, 0], list(self.shared))).tolist():
                found[row] = self.by_key.get(words[row].tobytes(), -1)
        return found
