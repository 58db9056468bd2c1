"""What travels to the workers, checked before a run starts: the job function and the items.

    job function --pickle by reference (local pool) / by value (Dask)--> refused before the run
    items of the share --a sample spread over it, pickled--> refused before the run
    a batch's items --one that does not pickle when its batch is sent--> its job's error row

Local workers start with ``spawn`` and import the job function by its name,
so a lambda or a nested function cannot reach them; Dask sends the job by
value (cloudpickle), so it may be a lambda. Items travel by pickle either way.
Checking every item of a large pool before starting would pickle it all
twice, so ``check_sendable`` pickles ``SAMPLE`` of them spread over the
share (into a sink that keeps nothing, so a large item costs no memory); an
item beyond the sample that does not pickle is found when its batch is sent
(``split_sendable``) and becomes that job's ``error`` row, and the run goes on.
"""

from __future__ import annotations

import importlib
import pickle
import time
from collections.abc import Sequence
from multiprocessing.reduction import ForkingPickler
from typing import Any

import numpy as np

from splitter.errors import UsageError
from splitter.run.engine import BatchEntry, JobPool, Row
from splitter.run.jobcall import one_line

__all__ = ["SAMPLE", "check_sendable", "split_sendable", "unsendable"]

SAMPLE = 64
"""Items of the share pickled before the run starts."""


class _Sink:
    """A binary file that keeps nothing: pickling into it only tells whether it works."""

    def write(self, data: bytes) -> int:
        return len(data)


def unsendable(value: object, *, by_value: bool = False) -> str | None:
    """Why ``value`` cannot be pickled to a worker, on one line; None when it can.

    ``by_value``: as Dask sends it, pickle first, else cloudpickle.
    """
    try:
        # The local pool's pipes and spawn pickle with ForkingPickler.
        ForkingPickler(_Sink(), pickle.HIGHEST_PROTOCOL).dump(value)
    except Exception as exc:  # __reduce__ and __getstate__ may raise anything
        if not by_value:
            return one_line(exc)
        try:
            # Typed as Any: cloudpickle is not annotated (it comes with Dask).
            cloudpickle: Any = importlib.import_module("cloudpickle")
            cloudpickle.Pickler(_Sink(), protocol=pickle.HIGHEST_PROTOCOL).dump(value)
        except Exception as again:
            return one_line(again)
    return None


def check_sendable(
    job: Any, pool: JobPool, share: Sequence[int] | np.ndarray, *, dask: bool = False
) -> None:
    """Refuse (UsageError) a job function or sampled items the workers could not receive."""
    problem = unsendable(job, by_value=dask)
    if problem is not None:
        name = getattr(job, "__qualname__", type(job).__name__)
        if dask:
            raise UsageError(
                f"the job function {name} cannot be sent to the Dask workers ({problem}); make"
                " it and what it refers to picklable, or run without --dask"
            )
        raise UsageError(
            f"the job function {name} cannot be sent to the worker processes ({problem});"
            " they start with spawn and import it by its name, so define it with `def` at"
            " the top level of the entry script (not a lambda or a nested function)"
        )
    ids = np.asarray(share, dtype=np.int64)
    spread = np.unique(np.linspace(0, len(ids) - 1, min(len(ids), SAMPLE)).astype(np.int64))
    for job_id in ids[spread].tolist():
        problem = unsendable(pool.items[job_id], by_value=dask)
        if problem is not None:
            raise UsageError(f"job {job_id}'s {_item_problem(problem)}")


def split_sendable(
    entries: Sequence[BatchEntry], *, by_value: bool = False
) -> tuple[list[BatchEntry], list[Row]]:
    """The entries that pickle, and an error row for each job whose item does not."""
    kept: list[BatchEntry] = []
    refused: list[Row] = []
    for entry in entries:
        problem = unsendable(entry, by_value=by_value)
        if problem is None:
            kept.append(entry)
        else:
            error = f"the job's {_item_problem(problem)}"
            refused.append((entry[0], "error", time.time(), 0.0, error, None))
    return kept, refused


def _item_problem(problem: str) -> str:
    return (
        f"item cannot be sent to a worker ({problem}); items travel by pickle, so make them of"
        " values that pickle (numbers, strings, tuples, lists, dicts, arrays, objects of"
        " classes the workers can import), not locks, open files, generators or lambdas"
    )
