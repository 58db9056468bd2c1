"""A shell task's variables: ours beside disBatch's, computed purely."""

from __future__ import annotations

from splitter.run.taskenv import (
    EnginePlace,
    TaskPlace,
    campaign_name,
    engine_variables,
    task_variables,
)

DIGEST = bytes.fromhex("f196e1f3edfb3561") + bytes(24)


def test_a_task_sees_ours_and_disbatch_variables_with_the_zero_padded_forms() -> None:
    place = TaskPlace(
        job_id=4, key="ab" * 16, seed=123, machine="alpha", worker=1, out="/r/alpha", task_id=5,
        repeat_index=-1, line=12, name="tasks.txt", plan_digest=DIGEST, rank=2,
    )  # fmt: skip
    assert task_variables(place) == {
        "SPLITTER_JOB_ID": "4",
        "SPLITTER_JOB_KEY": "ab" * 16,
        "SPLITTER_SEED": "123",
        "SPLITTER_MACHINE": "alpha",
        "SPLITTER_WORKER": "1",
        "SPLITTER_OUT": "/r/alpha",
        "DISBATCH_TASKID": "5",
        "DISBATCH_TASKID_ZP": "000005",
        "DISBATCH_REPEAT_INDEX": "-1",
        "DISBATCH_REPEAT_INDEX_ZP": "-00001",
        "DISBATCH_STREAM_INDEX": "12",
        "DISBATCH_STREAM_INDEX_ZP": "000012",
        "DISBATCH_NAMETASKS": "tasks.txt",
        "DISBATCH_JOBID": "f196e1f3",
        "DISBATCH_ENGINE_RANK": "2",
        "DISBATCH_CYLINDER_RANK": "1",
    }


def test_the_campaign_name_is_the_plan_digest_first_8_hex_digits_on_every_host() -> None:
    assert campaign_name(DIGEST) == "f196e1f3"


def test_a_perengine_command_sees_no_job_and_cylinder_rank_minus_1() -> None:
    place = EnginePlace("beta", "/r/beta", 0, 3, "stdin", DIGEST, 1)
    assert engine_variables(place) == {
        "SPLITTER_MACHINE": "beta",
        "SPLITTER_OUT": "/r/beta",
        "DISBATCH_TASKID": "0",
        "DISBATCH_TASKID_ZP": "000000",
        "DISBATCH_REPEAT_INDEX": "-1",
        "DISBATCH_REPEAT_INDEX_ZP": "-00001",
        "DISBATCH_STREAM_INDEX": "3",
        "DISBATCH_STREAM_INDEX_ZP": "000003",
        "DISBATCH_NAMETASKS": "stdin",
        "DISBATCH_JOBID": "f196e1f3",
        "DISBATCH_ENGINE_RANK": "1",
        "DISBATCH_CYLINDER_RANK": "-1",
    }
