"""What a job receives besides its item: random_obj, config, progress and job_context.

Each is injected as a keyword argument only when the job's signature takes it
(or takes ``**kwargs``), so a plain ``def job(x)`` costs nothing extra.
``job_context`` (where the job runs: its id, machine, worker, folder) is
injected only when named explicitly, so ``**kwargs`` jobs see no new key.
A job ends with a status other than ok or error by raising ``JobFailed``.
"""

from __future__ import annotations

import hashlib
import inspect
import random
from collections.abc import Callable, MutableSequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "EXPLICIT_ONLY",
    "INJECTABLE",
    "JobContext",
    "JobFailed",
    "JobRandom",
    "Progress",
    "injected_names",
    "job_seed64",
    "job_seed_sequence",
]

INJECTABLE = ("random_obj", "config", "progress")
EXPLICIT_ONLY = ("job_context",)


def injected_names(job: Callable[..., Any]) -> frozenset[str]:
    """The injectable keyword arguments that ``job`` accepts."""
    try:
        parameters = inspect.signature(job).parameters.values()
    except (TypeError, ValueError):
        # Builtins without a signature take nothing we could inject safely.
        return frozenset()
    keywordable = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = {p.name for p in parameters if p.kind in keywordable}
    explicit = names.intersection(EXPLICIT_ONLY)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return frozenset(INJECTABLE) | explicit
    return frozenset(names.intersection(INJECTABLE)) | explicit


def job_seed64(campaign_seed: bytes, job_key: bytes) -> int:
    """A 64-bit unsigned seed for one job, from the campaign seed and the job key alone.

    BLAKE2b with its own personalisation, so it is the same on every host and
    version, and unrelated to the streams of ``random_obj``.
    """
    digest = hashlib.blake2b(campaign_seed + job_key, digest_size=8, person=b"splitter/seed64")
    return int.from_bytes(digest.digest(), "little")


def job_seed_sequence(campaign_seed: bytes, job_key: bytes) -> np.random.SeedSequence:
    """The seed material of one job: the campaign seed as entropy, the job key as spawn key.

    The spawn key is the key's 16 bytes as four little-endian 32-bit words.
    SeedSequence's output is stable across NumPy versions, so a job gets the
    same streams on any host, with any worker count, in any split, in any pool.
    """
    # Imported here: workers of jobs that take no random_obj start faster without NumPy.
    import numpy as np

    words = tuple(int.from_bytes(job_key[i : i + 4], "little") for i in range(0, 16, 4))
    return np.random.SeedSequence(int.from_bytes(campaign_seed, "little"), spawn_key=words)


class JobRandom(random.Random):
    """A ``random.Random`` seeded for one job alone, plus a NumPy Generator.

    Only ``random()``, ``getrandbits()`` and what derives from the seed are
    guaranteed stable across Python versions; ``shuffle``/``choice`` may change
    between versions (Python documents this), so reproducibility-minded jobs
    use ``random()`` or the raw NumPy bit generator.
    """

    def __init__(self, campaign_seed: bytes, job_key: bytes) -> None:
        self._origin = (campaign_seed, job_key)
        self._seed_sequence = job_seed_sequence(campaign_seed, job_key)
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


class JobFailed(Exception):
    """Raised by a job to record ``status`` (error, crashed, timeout) with ``error`` and columns.

    Unlike any other exception, it carries the job's columns (``value``) into
    the row, and no traceback goes to the log: the job has said what happened.
    """

    def __init__(self, status: str, error: str, value: Any = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.value = value


class JobContext:
    """Where a job runs: ``job_context`` for a job that names it. Runs in a worker process.

    ``folder`` is the host folder the run writes (``OUT/<machine>/``), ``worker``
    the worker's index (0..workers-1), ``key`` the job's key (32 hex digits),
    ``seed`` the job's 64-bit seed (``job_seed64``), ``plan_digest`` and
    ``rank`` the plan's digest and the machine's index in it.
    ``hold_process_group(pgid)`` tells the parent which process group the
    job's own child processes are in, so a timeout, a lost worker or a stop
    kills all of them; ``hold_process_group(0)`` when it is gone. ``held``
    keeps the last group held (a shell task's pid), 0 if none.
    ``cancelled()`` says whether the run has given the job up (on Dask: its
    batch was cancelled, as the client stopped or went away): a long job may
    check it and end early, as shell tasks do.
    """

    __slots__ = (
        "_cancelled", "_offset", "_slots", "campaign_seed", "folder", "held", "job_id",
        "job_key", "machine", "plan_digest", "rank", "worker",
    )  # fmt: skip

    def __init__(
        self,
        job_id: int,
        job_key: bytes,
        machine: str,
        worker: int,
        folder: Path | None,
        campaign_seed: bytes,
        slots: MutableSequence[float] | None = None,
        offset: int = 0,
        plan_digest: bytes = b"",
        rank: int = 0,
        cancelled: Callable[[], bool] | None = None,
    ) -> None:
        self.job_id = job_id
        self.job_key = job_key
        self.machine = machine
        self.worker = worker
        self.folder = folder
        self.campaign_seed = campaign_seed
        self._slots = slots
        self._offset = offset
        self.plan_digest = plan_digest
        self.rank = rank
        self.held = 0
        self._cancelled = cancelled

    @property
    def key(self) -> str:
        """The job's key as 32 hex digits: the results' ``job_key``."""
        return self.job_key.hex()

    @property
    def seed(self) -> int:
        """The job's 64-bit seed, the same on every host and in every pool."""
        return job_seed64(self.campaign_seed, self.job_key)

    def hold_process_group(self, pgid: int) -> None:
        """Say that the job's children run in process group ``pgid`` (0: none any more)."""
        self.held = pgid or self.held
        if self._slots is not None:
            self._slots[self._offset] = float(pgid)

    def cancelled(self) -> bool:
        """Whether the run has given this job up: its result will not be recorded."""
        return self._cancelled is not None and self._cancelled()
