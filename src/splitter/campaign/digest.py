"""Digests that tie a run together: config digest, campaign seed, plan and rescue digests.

Each digest is ``tagged_digest(domain, ...)`` from splitter.campaign.canonical: BLAKE2b-256
over the canonical encoding of a tuple that starts with a domain string, so a
digest of one kind can never be mistaken for another. The chain is

    config digest -> campaign seed ----------------+
    pool digest (the items, so their job keys) ----+--> plan digest (+ machines)
                                                          -> rescue digest (+ rescued ids)

Hosts compare the plan digest. Jobs only ever see the campaign seed and their
own job key, so a job's randomness never depends on the machines or on the
rest of the pool.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from splitter.campaign.canonical import tagged_digest
from splitter.campaign.machines import Machine
from splitter.errors import UsageError

__all__ = [
    "campaign_seed",
    "config_digest",
    "digest_matches",
    "full_hex",
    "group_digest",
    "parse_expected_digest",
    "plan_digest",
    "rescue_digest",
]

_MIN_HEX_DIGITS = 8
_MAX_HEX_DIGITS = 64


def config_digest(content: dict[str, dict[str, str]]) -> bytes:
    """Return the digest of the parsed config: section -> option -> raw value."""
    return tagged_digest("splitter/config/v1", content)


def campaign_seed(config_digest: bytes) -> bytes:
    """Return the 32-byte campaign seed that every job's randomness and place derive from.

    It comes from splitter.ini's parsed content alone (``[run] seed`` included,
    to draw an independent replica on purpose), never from the pool or machines.
    """
    return tagged_digest("splitter/campaign-seed/v2", config_digest)


def plan_digest(campaign_seed: bytes, pool_digest: bytes, machines: Sequence[Machine]) -> bytes:
    """Return the plan digest over the campaign seed, the pool and the machines, in order.

    Perf is taken as a float and cores as an int, so machines.json may write
    ``[2, 4]`` or ``[2.0, 4]`` for the same machine. A machine that holds more
    than cores adds (gpus, mem, tags, named counts); one that does not is
    entered as before, so its digest is what it was before the long form.
    """
    entries = [_machine_entry(machine) for machine in machines]
    return tagged_digest("splitter/plan/v2", campaign_seed, pool_digest, entries)


def _machine_entry(machine: Machine) -> tuple[object, ...]:
    entry = (machine.name, float(machine.perf), int(machine.cores))
    if machine.cores_only:
        return entry
    return (*entry, machine.gpus, machine.mem, machine.tags, machine.resources)


def rescue_digest(
    plan_digest: bytes, job_ids: Sequence[int] | npt.NDArray[np.integer[Any]]
) -> bytes:
    """Return the digest of a rescue over the sorted, unique rescued job ids."""
    ids = np.asarray(job_ids)
    if ids.size and ids.dtype.kind not in "iu":
        raise TypeError(f"job ids must be integers, got an array of dtype {ids.dtype}")
    # Encoded as one int64 array: vectorised, and independent of the input order.
    return tagged_digest("splitter/rescue/v1", plan_digest, np.unique(ids.astype(np.int64)))


def full_hex(digest: bytes) -> str:
    """Return the whole digest as lowercase hex."""
    return digest.hex()


def group_digest(digest: bytes) -> str:
    """Return the first 8 bytes as hex in groups of four, for reading aloud."""
    head = digest[:8].hex()
    return " ".join(head[i : i + 4] for i in range(0, len(head), 4))


def parse_expected_digest(text: str) -> str:
    """Normalise a ``--expect-digest`` value to lowercase hex, or raise UsageError."""
    digits = "".join(text.split()).lower()
    fix = f"give at least {_MIN_HEX_DIGITS} hex digits of the digest shown by `plan`"
    if any(char not in string.hexdigits for char in digits):
        raise UsageError(f"--expect-digest '{text}' is not hexadecimal: {fix}")
    if len(digits) < _MIN_HEX_DIGITS:
        raise UsageError(f"--expect-digest '{text}' is too short: {fix}")
    if len(digits) > _MAX_HEX_DIGITS:
        raise UsageError(
            f"--expect-digest '{text}' is too long: give at most {_MAX_HEX_DIGITS} hex digits "
            "of the digest shown by `plan`"
        )
    return digits


def digest_matches(expected_hex: str, digest: bytes) -> bool:
    """Return whether ``expected_hex`` (normalised) is a prefix of the digest's hex."""
    return digest.hex().startswith(expected_hex)
