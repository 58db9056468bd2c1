"""What a job receives besides its item: random_obj, config and progress.

Each is injected as a keyword argument only when the job's signature takes it
(or takes ``**kwargs``), so a plain ``def job(x)`` costs nothing extra.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Callable, MutableSequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["INJECTABLE", "JobRandom", "Progress", "injected_names", "job_seed_sequence"]

INJECTABLE = ("random_obj", "config", "progress")


def injected_names(job: Callable[..., Any]) -> frozenset[str]:
    """The injectable keyword arguments that ``job`` accepts."""
    try:
        parameters = inspect.signature(job).parameters.values()
    except (TypeError, ValueError):
        # Builtins without a signature take nothing we could inject safely.
        return frozenset()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return frozenset(INJECTABLE)
    keywordable = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return frozenset(p.name for p in parameters if p.name in INJECTABLE and p.kind in keywordable)


def job_seed_sequence(run_seed: bytes, job_id: int) -> np.random.SeedSequence:
    """The seed material of one job: the run seed as entropy, the job id as spawn key.

    SeedSequence's output is stable across NumPy versions, so job k gets the
    same streams on any host, with any worker count, in any split.
    """
    # Imported here: workers of jobs that take no random_obj start faster without NumPy.
    import numpy as np

    return np.random.SeedSequence(int.from_bytes(run_seed, "little"), spawn_key=(job_id,))


class JobRandom(random.Random):
    """A ``random.Random`` seeded for one job alone, plus a NumPy Generator.

    Only ``random()``, ``getrandbits()`` and what derives from the seed are
    guaranteed stable across Python versions; ``shuffle``/``choice`` may change
    between versions (Python documents this), so reproducibility-minded jobs
    use ``random()`` or the raw NumPy bit generator.
    """

    def __init__(self, run_seed: bytes, job_id: int) -> None:
        self._origin = (run_seed, job_id)
        self._seed_sequence = job_seed_sequence(run_seed, job_id)
        words = self._seed_sequence.generate_state(8, "uint32")
        super().__init__(int.from_bytes(words.astype("<u4").tobytes(), "little"))
        self._numpy: np.random.Generator | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # random.Random pickles as cls() + state; this class needs its origin.
        return (type(self), self._origin, self.getstate())

    @property
    def seed_sequence(self) -> np.random.SeedSequence:
        """The job's SeedSequence, to spawn further independent streams."""
        return self._seed_sequence

    @property
    def numpy(self) -> np.random.Generator:
        """A NumPy ``Generator`` (PCG64) from the same per-job seed material."""
        if self._numpy is None:
            import numpy as np

            self._numpy = np.random.Generator(np.random.PCG64(self._seed_sequence))
        return self._numpy


class Progress:
    """``progress.report(value, base=100)``: the job's progress, shown live by the parent.

    Runs in a worker process. It writes two numbers into the worker's slot of
    shared memory, which the parent samples a few times a second, so a job may
    call it a million times without sending a single message.
    """

    __slots__ = ("_offset", "_slots")

    def __init__(self, slots: MutableSequence[float], offset: int) -> None:
        self._slots = slots
        self._offset = offset

    def report(self, value: float, base: float = 100) -> None:
        """Say that the job has done ``value`` out of ``base``."""
        self._slots[self._offset] = float(value)
        self._slots[self._offset + 1] = float(base)
