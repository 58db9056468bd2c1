"""The variables a shell task sees: ours (``SPLITTER_*``) beside disBatch's (``DISBATCH_*``).

Pure: numbers and names in, the variables out, so a disBatch task file's
``${DISBATCH_TASKID}`` and friends resolve as under disBatch:

    DISBATCH_TASKID          disBatch's task id (tasks, repeats and barriers counted from 0)
    DISBATCH_REPEAT_INDEX    the index within a REPEAT, -1 outside one
    DISBATCH_STREAM_INDEX    the 1-based line of the task file
    DISBATCH_*_ZP            the three above zero-padded to 6 digits ("%06d", so -1 is "-00001")
    DISBATCH_NAMETASKS       the task file's base name ("stdin" for standard input)
    DISBATCH_JOBID           the campaign's name: the plan digest's first 8 hex digits
    DISBATCH_ENGINE_RANK     this machine's index in machines.json (0 for a machine not in it)
    DISBATCH_CYLINDER_RANK   the worker's index (-1 for PERENGINE commands)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "JOBID_DIGITS",
    "EnginePlace",
    "TaskPlace",
    "campaign_name",
    "engine_variables",
    "task_variables",
]

JOBID_DIGITS = 8


@dataclass(frozen=True)
class TaskPlace:
    """Where one task runs: what its variables are made of."""

    job_id: int
    key: str
    seed: int
    machine: str
    worker: int
    out: str
    task_id: int
    repeat_index: int
    line: int
    name: str
    plan_digest: bytes
    rank: int


@dataclass(frozen=True)
class EnginePlace:
    """Where one PERENGINE command runs: the host's part of a task's variables."""

    machine: str
    out: str
    index: int
    """Its index among the file's START (or STOP) commands: its ``DISBATCH_TASKID``."""
    line: int
    name: str
    plan_digest: bytes
    rank: int


def campaign_name(plan_digest: bytes) -> str:
    """``DISBATCH_JOBID``: one name for the campaign, the same on every host."""
    return plan_digest.hex()[:JOBID_DIGITS]


def task_variables(place: TaskPlace) -> dict[str, str]:
    """The variables of one task, ours and disBatch's, as strings."""
    return {
        "SPLITTER_JOB_ID": str(place.job_id),
        "SPLITTER_JOB_KEY": place.key,
        "SPLITTER_SEED": str(place.seed),
        "SPLITTER_MACHINE": place.machine,
        "SPLITTER_WORKER": str(place.worker),
        "SPLITTER_OUT": place.out,
        **_numbers(place.task_id, place.repeat_index, place.line),
        **_campaign(place.name, place.plan_digest, place.rank, place.worker),
    }


def engine_variables(place: EnginePlace) -> dict[str, str]:
    """The variables of a PERENGINE command: no job's, and cylinder rank -1 (as disBatch)."""
    return {
        "SPLITTER_MACHINE": place.machine,
        "SPLITTER_OUT": place.out,
        **_numbers(place.index, -1, place.line),
        **_campaign(place.name, place.plan_digest, place.rank, -1),
    }


def _numbers(task_id: int, repeat_index: int, line: int) -> dict[str, str]:
    return {
        "DISBATCH_TASKID": str(task_id),
        "DISBATCH_TASKID_ZP": f"{task_id:06d}",
        "DISBATCH_REPEAT_INDEX": str(repeat_index),
        "DISBATCH_REPEAT_INDEX_ZP": f"{repeat_index:06d}",
        "DISBATCH_STREAM_INDEX": str(line),
        "DISBATCH_STREAM_INDEX_ZP": f"{line:06d}",
    }


def _campaign(name: str, plan_digest: bytes, rank: int, cylinder: int) -> dict[str, str]:
    return {
        "DISBATCH_NAMETASKS": name,
        "DISBATCH_JOBID": campaign_name(plan_digest),
        "DISBATCH_ENGINE_RANK": str(rank),
        "DISBATCH_CYLINDER_RANK": str(cylinder),
    }
