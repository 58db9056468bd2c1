"""Which task of a Slurm job array this process is, read from Slurm's environment.

Slurm starts every task of ``sbatch --array`` with the same script and tells
it apart by environment variables. An array of N tasks
(``SLURM_ARRAY_TASK_COUNT``) makes N equal machines; task k is
``SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN``, so ``--array=0-9`` and
``--array=1-10`` both give tasks 0..9. Where the command line gives N
(``run --slurm-array N``, as the printed script does), task k is
``SLURM_ARRAY_TASK_ID`` itself, so ``sbatch --array=3 script`` reruns task 3
of the same plan instead of being a one-task array. Its workers default to the CPUs Slurm
gave it (``SLURM_CPUS_PER_TASK``), else to the process's CPU affinity. A task
that Slurm requeued (``SLURM_RESTART_COUNT`` > 0) is the same machine again,
so it resumes its own folder like any rerun with the same digest. Every
variable read is checked: a whole number in the range Slurm can give it, else
one sentence naming it. Slurm sets SLURM_ARRAY_TASK_MIN and _COUNT in every
array task; older versions set only SLURM_ARRAY_TASK_ID, which alone cannot
tell the task's place, so such a task needs N from the command line. Pure:
the environment comes in as a mapping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from splitter.campaign.array import MAX_ARRAY_TASKS, check_array_size, task_name
from splitter.errors import UsageError

__all__ = ["ArrayTask", "array_task", "array_task_for_run", "in_array"]

TASK_ID = "SLURM_ARRAY_TASK_ID"
_FIX = "submit the array as --array=0-(N-1), as `slurm-script` writes it"
_MAX_ID = MAX_ARRAY_TASKS - 1
_MAX_CPUS = 0xFFFF  # Slurm keeps cpus-per-task in 16 bits
_MAX_COUNTER = 0xFFFFFFFF  # and job ids and restart counts in 32


@dataclass(frozen=True)
class ArrayTask:
    """One task of a Slurm array: its place among the tasks and what Slurm gave it."""

    index: int
    count: int
    job_id: str
    cpus: int | None
    """``SLURM_CPUS_PER_TASK``, when the array asked for CPUs per task."""
    restart_count: int

    @property
    def name(self) -> str:
        """The machine (and folder) name of this task: ``task-<index>``."""
        return task_name(self.index)

    def as_json(self) -> dict[str, object]:
        """What the manifest records of the task."""
        return {
            "job_id": self.job_id,
            "task": self.index,
            "tasks": self.count,
            "cpus_per_task": self.cpus,
            "restart_count": self.restart_count,
        }


def in_array(env: Mapping[str, str]) -> bool:
    """Whether the environment is that of a Slurm array task."""
    return bool(env.get(TASK_ID, "").strip())


def array_task(env: Mapping[str, str], tasks: int | None = None) -> ArrayTask:
    """The array task the environment describes (of ``tasks``, if given); UsageError outside."""
    if not in_array(env):
        raise UsageError(
            f"--slurm-array needs Slurm's {TASK_ID}, which is not set: this process is not "
            "a task of a job array; submit the script `slurm-script` prints with sbatch"
        )
    task_id = _number(env, TASK_ID, 0, _MAX_ID)
    if tasks is not None:
        check_array_size(tasks)
        index, count = task_id, tasks
        if not 0 <= index < count:
            raise UsageError(
                f"array task {task_id} is not one of the tasks 0..{count - 1} of "
                f"--slurm-array {count}; {_FIX}, or a part of that range"
            )
    else:
        index, count = _counted_from_lowest(env, task_id)
    cpus = _optional(env, "SLURM_CPUS_PER_TASK", 1, _MAX_CPUS)
    job_id = _optional(env, "SLURM_JOB_ID", 0, _MAX_COUNTER)
    array_job = _optional(env, "SLURM_ARRAY_JOB_ID", 0, _MAX_COUNTER)
    chosen = array_job if array_job is not None else job_id
    return ArrayTask(
        index=index,
        count=count,
        job_id="" if chosen is None else str(chosen),
        cpus=cpus,
        restart_count=_optional(env, "SLURM_RESTART_COUNT", 0, _MAX_COUNTER) or 0,
    )


def _counted_from_lowest(env: Mapping[str, str], task_id: int) -> tuple[int, int]:
    """Task index and count from Slurm's view of the array alone."""
    lowest = _number(env, "SLURM_ARRAY_TASK_MIN", 0, _MAX_ID)
    count = _number(env, "SLURM_ARRAY_TASK_COUNT", 1, MAX_ARRAY_TASKS)
    index = task_id - lowest
    if not 0 <= index < count:
        raise UsageError(
            f"array task {task_id} is task {index} counted from SLURM_ARRAY_TASK_MIN "
            f"{lowest}, outside 0..{count - 1} for SLURM_ARRAY_TASK_COUNT {count}: the "
            f"indices have gaps or steps; {_FIX}"
        )
    return index, count


def array_task_for_run(
    explicit: bool,
    machine_named: bool,
    whole_pool: bool,
    env: Mapping[str, str],
    tasks: int | None = None,
) -> ArrayTask | None:
    """The task ``run`` plays: with ``--slurm-array [N]``, or in an array with no machine named.

    A machine named (``--machine``, ``$SPLITTER_MACHINE``) or ``--all`` inside an array
    keeps its usual meaning; with ``--slurm-array`` it is a contradiction.
    """
    if explicit and (machine_named or whole_pool):
        what = "--all" if whole_pool else "a machine (--machine or SPLITTER_MACHINE)"
        raise UsageError(
            f"--slurm-array makes the array's tasks the machines, so {what} cannot be "
            "given too; drop one of them"
        )
    if explicit or (in_array(env) and not machine_named and not whole_pool):
        return array_task(env, tasks)
    return None


def _number(env: Mapping[str, str], name: str, low: int, high: int) -> int:
    """Slurm's variable ``name``: a whole number from ``low`` to ``high``, else UsageError."""
    value = _optional(env, name, low, high)
    if value is None:
        raise UsageError(
            f"Slurm's {name} is not set (Slurm sets it in every array task; an older Slurm"
            f" sets only {TASK_ID}), so which task of the array this is cannot be told; run"
            " it as `run --slurm-array N`, N the array's number of tasks, as `slurm-script`"
            " writes it"
        )
    return value


def _optional(env: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    """Slurm's variable ``name`` when set: a whole number from ``low`` to ``high``."""
    text = env.get(name, "").strip()
    if not text:
        return None
    # Only ASCII digits, and few of them: int() would also take '+3', '1_0', '٣'
    # and choke on 5,000 digits.
    if re.fullmatch(r"-?[0-9]{1,12}", text) is None or not low <= int(text) <= high:
        raise UsageError(
            f"Slurm's {name} is {text[:40]!r}, not a whole number from {low:,} to {high:,};"
            " run the task under sbatch as `slurm-script` writes it, or unset it"
        )
    return int(text)
