"""Tests for splitter.run.slurm: which array task this process is, from Slurm's environment."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from splitter.errors import UsageError
from splitter.run.slurm import ArrayTask, array_task, array_task_for_run, in_array


def slurm_env(task_id: int = 1, lowest: int = 0, count: int = 3, **more: str) -> dict[str, str]:
    """The variables Slurm sets in a task of `sbatch --array=lowest-(lowest+count-1)`."""
    return {
        "SLURM_ARRAY_TASK_ID": str(task_id),
        "SLURM_ARRAY_TASK_MIN": str(lowest),
        "SLURM_ARRAY_TASK_MAX": str(lowest + count - 1),
        "SLURM_ARRAY_TASK_COUNT": str(count),
        "SLURM_ARRAY_JOB_ID": "812",
        "SLURM_JOB_ID": str(812 + task_id),
        **more,
    }


def test_a_task_is_its_id_counted_from_the_lowest_id() -> None:
    task = array_task(slurm_env(task_id=12, lowest=10, count=4))
    assert task == ArrayTask(index=2, count=4, job_id="812", cpus=None, restart_count=0)
    assert task.name == "task-2"


@given(lowest=st.integers(0, 10_000), count=st.integers(1, 1000), data=st.data())
def test_every_id_of_a_contiguous_array_is_one_task_in_order(
    lowest: int, count: int, data: st.DataObject
) -> None:
    offset = data.draw(st.integers(0, count - 1))
    task = array_task(slurm_env(task_id=lowest + offset, lowest=lowest, count=count))
    assert (task.index, task.count) == (offset, count)


def test_with_the_number_of_tasks_given_a_task_is_its_id() -> None:
    # `sbatch --array=2 script` reruns task 2 alone: Slurm sees an array of one.
    env = slurm_env(task_id=2, lowest=2, count=1)
    assert (array_task(env, tasks=3).index, array_task(env, tasks=3).count) == (2, 3)
    assert array_task_for_run(True, False, False, env, tasks=3) == array_task(env, tasks=3)


def test_with_the_number_of_tasks_given_an_id_beyond_them_is_refused() -> None:
    with pytest.raises(UsageError) as caught:
        array_task(slurm_env(task_id=3, lowest=1, count=3), tasks=3)
    assert str(caught.value) == (
        "array task 3 is not one of the tasks 0..2 of --slurm-array 3; submit the array as "
        "--array=0-(N-1), as `slurm-script` writes it, or a part of that range"
    )


def test_the_cpus_and_the_restart_count_come_from_slurm() -> None:
    env = slurm_env(SLURM_CPUS_PER_TASK="4", SLURM_RESTART_COUNT="2")
    task = array_task(env)
    assert (task.cpus, task.restart_count) == (4, 2)
    assert task.as_json() == {
        "job_id": "812", "task": 1, "tasks": 3, "cpus_per_task": 4, "restart_count": 2,
    }  # fmt: skip


def test_outside_an_array_the_task_is_refused_naming_slurm_script() -> None:
    with pytest.raises(UsageError) as caught:
        array_task({"SLURM_JOB_ID": "5"})
    assert str(caught.value) == (
        "--slurm-array needs Slurm's SLURM_ARRAY_TASK_ID, which is not set: this process is "
        "not a task of a job array; submit the script `slurm-script` prints with sbatch"
    )


def test_an_array_with_gaps_is_refused_with_the_fix() -> None:
    env = slurm_env(task_id=7, lowest=1, count=3)  # as --array=1,3,7 sets it
    with pytest.raises(UsageError) as caught:
        array_task(env)
    assert str(caught.value) == (
        "array task 7 is task 6 counted from SLURM_ARRAY_TASK_MIN 1, outside 0..2 for "
        "SLURM_ARRAY_TASK_COUNT 3: the indices have gaps or steps; submit the array as "
        "--array=0-(N-1), as `slurm-script` writes it"
    )


def test_a_variable_that_is_not_a_number_is_named() -> None:
    with pytest.raises(UsageError) as caught:
        array_task(slurm_env(SLURM_CPUS_PER_TASK="two"))
    assert str(caught.value).startswith("Slurm's SLURM_CPUS_PER_TASK is 'two', not a whole number")


def test_in_array_needs_a_task_id() -> None:
    assert in_array(slurm_env())
    assert not in_array({"SLURM_JOB_ID": "5"})
    assert not in_array({"SLURM_ARRAY_TASK_ID": ""})


def test_run_is_an_array_task_inside_an_array_when_no_machine_is_named() -> None:
    assert array_task_for_run(False, False, False, slurm_env()) == array_task(slurm_env())


def test_run_keeps_a_named_machine_or_the_whole_pool_inside_an_array() -> None:
    assert array_task_for_run(False, True, False, slurm_env()) is None
    assert array_task_for_run(False, False, True, slurm_env()) is None


def test_run_outside_an_array_is_no_task() -> None:
    assert array_task_for_run(False, False, False, {}) is None


def test_slurm_array_outside_an_array_is_refused() -> None:
    with pytest.raises(UsageError):
        array_task_for_run(True, False, False, {})


def test_slurm_array_with_a_machine_or_all_is_a_contradiction() -> None:
    with pytest.raises(UsageError) as named:
        array_task_for_run(True, True, False, slurm_env())
    with pytest.raises(UsageError) as whole:
        array_task_for_run(True, False, True, slurm_env())
    assert str(named.value) == (
        "--slurm-array makes the array's tasks the machines, so a machine (--machine or "
        "SPLITTER_MACHINE) cannot be given too; drop one of them"
    )
    assert str(whole.value).startswith(
        "--slurm-array makes the array's tasks the machines, so --all"
    )


def test_without_the_lowest_id_a_task_is_refused_not_taken_as_task_0() -> None:
    # A Slurm that sets only SLURM_ARRAY_TASK_ID: tasks 1 and 2 both became task-0.
    env = {k: v for k, v in slurm_env(task_id=2).items() if k != "SLURM_ARRAY_TASK_MIN"}
    with pytest.raises(UsageError) as caught:
        array_task(env)
    assert str(caught.value) == (
        "Slurm's SLURM_ARRAY_TASK_MIN is not set (Slurm sets it in every array task; an older"
        " Slurm sets only SLURM_ARRAY_TASK_ID), so which task of the array this is cannot be"
        " told; run it as `run --slurm-array N`, N the array's number of tasks, as"
        " `slurm-script` writes it"
    )


def test_without_the_lowest_id_the_number_of_tasks_given_still_places_the_task() -> None:
    env = {k: v for k, v in slurm_env(task_id=2).items() if k != "SLURM_ARRAY_TASK_MIN"}
    assert (array_task(env, tasks=3).index, array_task(env, tasks=3).count) == (2, 3)


def test_without_the_count_a_task_is_refused_naming_it() -> None:
    env = {k: v for k, v in slurm_env().items() if k != "SLURM_ARRAY_TASK_COUNT"}
    with pytest.raises(UsageError, match=r"^Slurm's SLURM_ARRAY_TASK_COUNT is not set \("):
        array_task(env)


@pytest.mark.parametrize(
    ("name", "value", "bounds"),
    [
        ("SLURM_CPUS_PER_TASK", "-2", "1 to 65,535"),
        ("SLURM_CPUS_PER_TASK", "0", "1 to 65,535"),
        ("SLURM_ARRAY_TASK_COUNT", "100000000", "1 to 4,000,001"),
        ("SLURM_ARRAY_TASK_COUNT", "0", "1 to 4,000,001"),
        ("SLURM_RESTART_COUNT", "-1", "0 to 4,294,967,295"),
        ("SLURM_ARRAY_TASK_MIN", "-1", "0 to 4,000,000"),
        ("SLURM_ARRAY_TASK_ID", "99999999", "0 to 4,000,000"),
        ("SLURM_ARRAY_JOB_ID", "12a", "0 to 4,294,967,295"),
        ("SLURM_JOB_ID", "+3", "0 to 4,294,967,295"),
        ("SLURM_CPUS_PER_TASK", "1_0", "1 to 65,535"),
        ("SLURM_CPUS_PER_TASK", "٣", "1 to 65,535"),
    ],
)
def test_every_slurm_variable_read_is_a_whole_number_in_slurms_range(
    name: str, value: str, bounds: str
) -> None:
    with pytest.raises(UsageError) as caught:
        array_task(slurm_env(**{name: value}))
    assert str(caught.value) == (
        f"Slurm's {name} is {value!r}, not a whole number from {bounds}; run the task under"
        " sbatch as `slurm-script` writes it, or unset it"
    )


def test_a_variable_of_5000_digits_is_named_not_a_traceback() -> None:
    with pytest.raises(UsageError) as caught:
        array_task(slurm_env(SLURM_RESTART_COUNT="9" * 5000))
    assert str(caught.value).startswith(f"Slurm's SLURM_RESTART_COUNT is '{'9' * 40}', not a")


def test_more_tasks_than_slurm_allows_are_refused_before_any_machine_is_made() -> None:
    with pytest.raises(UsageError) as caught:
        array_task(slurm_env(task_id=1), tasks=100_000_000)
    assert str(caught.value) == (
        "a Slurm array of 100,000,000 tasks is more than Slurm allows (4,000,001, its largest"
        " MaxArraySize); give fewer tasks, each running a larger share"
    )
