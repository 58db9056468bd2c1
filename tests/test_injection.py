"""random_obj, config and progress: injected by signature, seeded per job."""

from __future__ import annotations

import pickle
import subprocess
import sys

from labels import key_of
from splitter.run.injection import JobContext, JobRandom, Progress, injected_names, job_seed64

SEED = bytes(range(32))
KEY = bytes(range(16))
RAW_PINNED = [17461000652015475209, 4819606988950084147]


def key(job_id: int) -> bytes:
    """The 16 bytes of the key of the job whose item is the int ``job_id``."""
    return bytes.fromhex(key_of(job_id))


def test_only_the_keywords_a_job_takes_are_injected() -> None:
    def plain(x):
        return x

    def some(x, *, config, progress):
        return x

    def positional(x, random_obj):
        return x

    assert injected_names(plain) == frozenset()
    assert injected_names(some) == {"config", "progress"}
    assert injected_names(positional) == {"random_obj"}


def test_a_job_taking_kwargs_gets_everything() -> None:
    def anything(x, **kwargs):
        return x

    assert injected_names(anything) == {"random_obj", "config", "progress"}


def test_a_callable_without_a_signature_gets_nothing() -> None:
    assert injected_names(print) == frozenset() or "progress" not in injected_names(print)


def test_a_job_gets_the_same_stream_every_time() -> None:
    first, second = JobRandom(SEED, key(7)), JobRandom(SEED, key(7))
    assert [first.random() for _ in range(5)] == [second.random() for _ in range(5)]
    assert (
        first.numpy.integers(0, 1 << 40, 5).tolist()
        == second.numpy.integers(0, 1 << 40, 5).tolist()
    )


def test_jobs_get_different_streams() -> None:
    assert JobRandom(SEED, key(1)).random() != JobRandom(SEED, key(2)).random()
    assert JobRandom(SEED, key(1)).random() != JobRandom(bytes(32), key(1)).random()


def test_the_streams_are_pinned_so_a_change_is_caught() -> None:
    # Regression vectors: results of old campaigns depend on these never changing.
    job = JobRandom(SEED, KEY)
    assert job.random() == 0.5165713002139739
    assert job.numpy.bit_generator.random_raw(2).tolist() == RAW_PINNED


def test_the_stream_does_not_depend_on_the_hash_seed() -> None:
    code = (
        "from splitter.run.injection import JobRandom; "
        f"print(repr(JobRandom({SEED!r}, {key(5)!r}).random()))"
    )
    draws = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": hash_seed},
        ).stdout
        for hash_seed in ("0", "4711")
    }
    assert draws == {f"{JobRandom(SEED, key(5)).random()!r}\n"}


def test_progress_writes_into_its_slot_only() -> None:
    slots = [0.0] * 8
    Progress(slots, 6).report(3, base=4)
    assert slots == [0.0] * 6 + [3.0, 4.0]


def test_progress_reports_default_to_a_base_of_100() -> None:
    slots = [0.0, 0.0]
    Progress(slots, 0).report(42)
    assert slots == [42.0, 100.0]


def test_job_random_survives_pickling_with_its_state() -> None:
    original = JobRandom(SEED, key(3))
    original.random()
    copy = pickle.loads(pickle.dumps(original))
    assert copy.random() == original.random()


def test_job_context_is_injected_only_when_named() -> None:
    def named(x, *, job_context):
        return x

    def anything(x, **kwargs):
        return x

    assert injected_names(named) == {"job_context"}
    assert "job_context" not in injected_names(anything)


def test_the_64_bit_seed_is_pinned_and_differs_per_job() -> None:
    assert job_seed64(bytes(32), bytes(16)) == 4795064614226422975
    assert job_seed64(SEED, KEY) == 12002536636948408118
    assert len({job_seed64(SEED, key(job_id)) for job_id in range(1000)}) == 1000


def test_the_context_tells_the_parent_its_process_group_through_its_slot() -> None:
    slots = [0.0] * 10
    context = JobContext(4, key(4), "alpha", 1, None, SEED, slots, 9)
    context.hold_process_group(4321)
    assert (slots[9], context.seed, context.key) == (4321.0, job_seed64(SEED, key(4)), key_of(4))
    context.hold_process_group(0)
    assert slots == [0.0] * 10
