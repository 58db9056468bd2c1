"""Tests for splitter.campaign.array: a Slurm array's tasks as the plan's machines."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_configs
from splitter.campaign.array import array_machines, task_name
from splitter.campaign.load import ConfigsLocation, load_campaign
from splitter.campaign.machines import Machine
from splitter.campaign.needs import Needs
from splitter.errors import UsageError


def test_an_array_of_three_is_three_equal_machines_named_by_task() -> None:
    assert array_machines(3) == (
        Machine("task-0", 1.0, 1),
        Machine("task-1", 1.0, 1),
        Machine("task-2", 1.0, 1),
    )


def test_array_tasks_hold_the_most_any_kind_needs() -> None:
    kinds = [
        Needs(),
        Needs(cores=4, tags=("cuda",)),
        Needs(gpus=2, mem=8, resources=(("lic", 1),)),
    ]
    assert array_machines(2, kinds) == (
        Machine("task-0", 1.0, 4, 2, 8, ("cuda",), (("lic", 1),)),
        Machine("task-1", 1.0, 4, 2, 8, ("cuda",), (("lic", 1),)),
    )


def test_array_tasks_of_one_core_jobs_are_the_plain_tasks() -> None:
    assert array_machines(3, [Needs()]) == array_machines(3)


def test_task_names_count_from_zero() -> None:
    assert [task_name(k) for k in (0, 1, 12)] == ["task-0", "task-1", "task-12"]


def test_an_array_of_no_tasks_is_refused() -> None:
    with pytest.raises(UsageError) as caught:
        array_machines(0)
    assert str(caught.value) == "a Slurm array of 0 tasks has no machines; give at least 1 task"


def test_an_array_campaign_reads_no_machines_json(tmp_path: Path) -> None:
    folder = write_configs(tmp_path / "configs")
    (folder / "machines.json").unlink()
    made = load_campaign(
        ConfigsLocation(folder, "--configs"), range(10), machines=array_machines(2)
    )
    assert [(share.machine.name, share.size) for share in made.plan.shares] == [
        ("task-0", 5),
        ("task-1", 5),
    ]


def test_the_digest_covers_the_number_of_tasks_but_not_the_campaign_seed(tmp_path: Path) -> None:
    where = ConfigsLocation(write_configs(tmp_path / "configs"), "--configs")
    two = load_campaign(where, range(10), machines=array_machines(2))
    three = load_campaign(where, range(10), machines=array_machines(3))
    again = load_campaign(where, range(10), machines=array_machines(3))
    local = load_campaign(where, range(10))
    assert three.plan.digest == again.plan.digest
    assert len({two.plan.digest, three.plan.digest, local.plan.digest}) == 3
    assert two.campaign_seed == three.campaign_seed == local.campaign_seed
