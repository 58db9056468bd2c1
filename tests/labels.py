"""Job labels for tests: each job id's key and input text, as a run of ``range(n)`` writes them.

Job i is the job whose item is the int i, so its key is that item's content
key (the same in any pool of ints: a key depends on the item alone) and its
input text is ``repr(i)``. Rows written with `LABELS` are the rows a real run
of the pool ``range(n)`` writes for those job ids, and `plan_record` is the
plan.zst such a run keeps beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from splitter.campaign.identity import JobKeys, identify_pool
from splitter.store.planfile import PlanRecord
from splitter.store.rowformat import describe_input

__all__ = ["LABELS", "IntLabels", "key_of", "keys_of", "plan_record", "pool_digest"]


@cache
def key_of(job_id: int) -> str:
    """The key of the job whose item is the int ``job_id``: 32 hex digits."""
    return identify_pool([job_id]).keys.hex(0)


def keys_of(total: int) -> JobKeys:
    """The keys of the pool ``range(total)``, in job id order."""
    return identify_pool(range(total)).keys


def pool_digest(total: int) -> bytes:
    """The pool digest of ``range(total)``."""
    return identify_pool(range(total)).digest


class IntLabels:
    """`splitter.store.rowformat.JobLabels` of the pool ``range(n)``, for any n."""

    def key_text(self, job_id: int) -> str:
        """Job ``job_id``'s key."""
        return key_of(job_id)

    def input(self, job_id: int) -> str:
        """Job ``job_id``'s input as a failed row says it: its item, ``repr(job_id)``."""
        return describe_input(job_id)


LABELS = IntLabels()


def plan_record(
    plan_digest: bytes, total: int, machines: Sequence[str], owners: Sequence[int] | None = None
) -> PlanRecord:
    """The plan.zst record of a plan of ``range(total)`` over ``machines``.

    ``owners`` gives each job's machine (an index into ``machines``); by default
    job i is owned by machine ``i % len(machines)``.
    """
    owned = np.arange(total) % len(machines) if owners is None else np.asarray(owners)
    return PlanRecord(
        plan_digest.hex(), pool_digest(total).hex(), tuple(machines), keys_of(total).words,
        owned.astype(np.uint16),
    )  # fmt: skip
