"""The machines of a Slurm job array: N equal tasks named ``task-0`` ... ``task-(N-1)``.

Inside an array the tasks are the machines, so the plan is made over them
instead of machines.json. Every task weighs the same (perf 1, one core: the
weight only sets the proportions; the workers a task runs are its own
business), and the names and their number enter the plan digest as any
machines do, so the digest covers N and every task of one array shows the
same one. With the campaign's kinds of job, every task holds the most any
kind needs (as ``slurm-script`` asks Slurm for), so the plan puts every kind
on every task; from the kinds alone, so every task computes the same.
"""

from __future__ import annotations

from collections.abc import Sequence

from splitter.campaign.machines import Machine
from splitter.campaign.needs import Needs
from splitter.errors import UsageError

__all__ = ["MAX_ARRAY_TASKS", "TASK_PREFIX", "array_machines", "check_array_size", "task_name"]

TASK_PREFIX = "task-"
MAX_ARRAY_TASKS = 4_000_001
"""The most tasks a Slurm array can have: the largest MaxArraySize Slurm accepts."""


def task_name(index: int) -> str:
    """The machine (and folder) name of array task ``index``, counted from 0."""
    return f"{TASK_PREFIX}{index}"


def array_machines(count: int, kinds: Sequence[Needs] = ()) -> tuple[Machine, ...]:
    """The ``count`` equal machines of an array of ``count`` tasks, in task order.

    Each holds the most of every count any of ``kinds`` needs, and all their
    tags; with no kinds (or only one-core ones) a task is one core, as before.
    """
    check_array_size(count)
    most: dict[str, int] = {"cores": 1, "gpus": 0, "mem": 0}
    for kind in kinds:
        for name, need in kind.counts().items():
            most[name] = max(most.get(name, 0), need)
    cores, gpus, mem = most.pop("cores"), most.pop("gpus"), most.pop("mem")
    tags = tuple(sorted({tag for kind in kinds for tag in kind.tags}))
    return tuple(
        Machine(task_name(index), 1.0, cores, gpus, mem, tags, tuple(sorted(most.items())))
        for index in range(count)
    )


def check_array_size(count: int) -> None:
    """Refuse an array of fewer than 1 or more tasks than Slurm allows (UsageError)."""
    if count < 1:
        raise UsageError(f"a Slurm array of {count} tasks has no machines; give at least 1 task")
    if count > MAX_ARRAY_TASKS:
        raise UsageError(
            f"a Slurm array of {count:,} tasks is more than Slurm allows ({MAX_ARRAY_TASKS:,},"
            " its largest MaxArraySize); give fewer tasks, each running a larger share"
        )
