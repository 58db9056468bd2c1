"""Tests for splitter.run.local.dispatch: batches, the slots they hold, and their grants."""

from __future__ import annotations

import numpy as np
import pytest

from splitter.campaign.kinds import PLAIN, JobKinds
from splitter.campaign.machines import Machine
from splitter.campaign.needs import Needs
from splitter.errors import ConfigError
from splitter.run.local.allocator import HostCapacity, Slots
from splitter.run.local.dispatch import HostSlots, JobQueue, Taken, largest_first, local_slots

GPU_HOST = HostSlots(HostCapacity(cores=4, gpus=("0", "1"), mem=2**30, cpus=(0, 1)))
MIXED = JobKinds((Needs(), Needs(gpus=1), Needs(cores=4)), np.array([0, 1, 0, 2, 1, 0], "int32"))


def test_plain_jobs_come_in_order_in_batches_of_the_size_asked() -> None:
    queue = JobQueue([5, 3, 9, 1], PLAIN, GPU_HOST)
    assert queue.take(3, set()) == Taken([5, 3, 9])
    queue.put_back([3, 9])
    assert (len(queue), queue.take(10, set())) == (3, Taken([3, 9, 1]))


def test_a_job_to_run_alone_comes_in_a_batch_of_its_own() -> None:
    queue = JobQueue([5, 3, 9], PLAIN, GPU_HOST)
    assert queue.take(3, {5}) == Taken([5])


def test_with_needs_a_batch_is_one_kind_in_the_slots_the_allocator_grants() -> None:
    queue = JobQueue(range(6), MIXED, GPU_HOST)
    first = queue.take(3, set())
    # The largest kind first: the four-core job, alone on the host's 4 cores.
    assert first == Taken([3], Slots((0, 1, 2, 3)), 3)
    assert queue.take(3, set()) is None  # every core is held
    queue.release(first)
    assert queue.take(3, set()) == Taken([1, 4], Slots((0,), ("0",)), 1)
    assert queue.take(3, set()) == Taken([0, 2, 5], Slots((1,)), 0)
    assert len(queue) == 0


def test_jobs_put_back_run_before_the_others_of_their_kind() -> None:
    queue = JobQueue(range(6), MIXED, GPU_HOST)
    taken = queue.take(3, set())
    assert taken is not None
    queue.release(taken)
    queue.put_back([3])
    assert queue.take(2, set()) == Taken([3], Slots((0, 1, 2, 3)), 3)


def test_the_kinds_that_fit_fewest_at_once_start_first() -> None:
    kinds = [Needs(), Needs(cores=4), Needs(gpus=1), Needs(gpus=2), Needs(cores=2)]
    assert largest_first(kinds, HostCapacity(16, ("0", "1"))) == [3, 2, 1, 4, 0]


def test_a_grant_carries_the_variables_the_cpus_and_the_memory_limit() -> None:
    host = HostSlots(GPU_HOST.capacity, pin_cores=True, enforce_mem=True)
    queue = JobQueue(range(6), MIXED, host)
    grant = queue.grant(Slots((1, 2), ("1",), 2**20), 0)
    resources = grant.resources
    assert (resources.cores, resources.gpus, resources.cpus) == (2, ("1",), (0, 1))
    assert grant.resources.environment["CUDA_VISIBLE_DEVICES"] == "1"
    assert (grant.pin, grant.mem_limit, grant.group_mem, grant.binding) == (
        (0, 1), 2**20, 0, (2, ("1",))
    )  # fmt: skip
    tasks = JobQueue(range(6), MIXED, host, by_group=True)
    assert tasks.grant(Slots((1, 2), ("1",), 2**20), 0).group_mem == 2**20


def test_a_plain_jobs_grant_is_its_workers_core() -> None:
    grant = JobQueue([0], PLAIN, GPU_HOST).grant(None, 3)
    assert (grant.resources.cores, grant.resources.cpus, grant.pin, grant.mem_limit) == (
        1, (1,), (), 0
    )  # fmt: skip
    assert grant.resources.environment["CUDA_VISIBLE_DEVICES"] == ""


def test_a_host_without_a_machine_lends_its_cores_and_the_gpus_it_shows() -> None:
    kinds = JobKinds((Needs(gpus=2),))
    host = local_slots(None, 3, kinds, [0], environ={"CUDA_VISIBLE_DEVICES": "4,6"})
    assert (host.capacity.cores, host.capacity.gpus) == (3, ("4", "6"))
    assert host.capacity.mem > 0


def test_a_job_this_host_cannot_hold_is_refused_naming_it() -> None:
    kinds = JobKinds((Needs(), Needs(gpus=1)), np.array([0, 0, 1], "int32"))
    with pytest.raises(ConfigError) as caught:
        local_slots(None, 2, kinds, [0, 1, 2], environ={})
    assert str(caught.value).startswith(
        "job 2 needs cores=1 gpus=1, more than this host has (cores=2 gpus=0 mem="
    )
    assert str(caught.value).endswith("); run it with --machine naming a machine that holds it")


def test_plain_jobs_on_a_host_that_shows_fewer_gpus_than_declared_run_anyway() -> None:
    machine = Machine("alpha", 1.0, 4, gpus=2)
    host = local_slots(machine, 4, PLAIN, [0], environ={"CUDA_VISIBLE_DEVICES": "0"})
    assert host.capacity.gpus == ("0",)
    with pytest.raises(ConfigError, match="declares 2 GPUs, but ROCR_VISIBLE_DEVICES='0'"):
        local_slots(
            machine, 4, JobKinds((Needs(gpus=1),)), [0], environ={"ROCR_VISIBLE_DEVICES": "0"}
        )
