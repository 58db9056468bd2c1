"""Tests for splitter.run.local.allocator: packing jobs into a host's slots, none starved."""

from __future__ import annotations

import heapq

import pytest
from hypothesis import given
from hypothesis import strategies as st

from splitter.campaign.machines import Machine
from splitter.campaign.needs import Needs
from splitter.errors import ConfigError
from splitter.run.local.allocator import (
    Allocator,
    HostCapacity,
    Slots,
    WaitingJobs,
    host_capacity,
)

GIB = 2**30
HOST = HostCapacity(cores=4, gpus=("0", "1"), mem=16 * GIB, resources=(("lic", 2),))


def queue_of(*needs: Needs) -> WaitingJobs:
    queue = WaitingJobs()
    for job, need in enumerate(needs):
        queue.push(job, need)
    return queue


def test_a_job_gets_the_lowest_free_cores_and_gpus() -> None:
    allocator = Allocator(HOST)
    assert allocator.try_start(7, Needs(cores=2, gpus=1, mem=GIB)) == Slots((0, 1), ("0",), GIB)
    assert allocator.try_start(8, Needs(cores=1, gpus=1)) == Slots((2,), ("1",))
    assert allocator.running == {7: Slots((0, 1), ("0",), GIB), 8: Slots((2,), ("1",))}


def test_a_job_waits_until_every_count_it_needs_is_free() -> None:
    allocator = Allocator(HOST)
    assert allocator.try_start(0, Needs(gpus=2)) is not None
    assert allocator.try_start(1, Needs(gpus=1)) is None
    allocator.release(0)
    assert allocator.try_start(1, Needs(gpus=1)) == Slots((0,), ("0",))


def test_memory_and_named_counts_are_counting_semaphores() -> None:
    allocator = Allocator(HOST)
    lic = Needs(resources=(("lic", 1),))
    assert allocator.try_start(0, Needs(mem=10 * GIB)) is not None
    assert allocator.try_start(1, Needs(mem=8 * GIB)) is None
    assert allocator.try_start(2, lic) is not None
    assert allocator.try_start(3, lic) is not None
    assert allocator.try_start(4, lic) is None
    allocator.release(2)
    assert allocator.try_start(4, lic) == Slots((1,), (), 0, (("lic", 1),))


def test_released_slots_go_out_again_lowest_first() -> None:
    allocator = Allocator(HOST)
    for job in range(4):
        allocator.try_start(job, Needs(gpus=job % 2))
    allocator.release(2)
    allocator.release(1)
    assert allocator.try_start(9, Needs(cores=2, gpus=1)) == Slots((1, 2), ("0",))


def test_a_smaller_job_fills_the_gap_a_larger_head_leaves() -> None:
    allocator = Allocator(HOST)
    allocator.try_start(100, Needs(cores=3))
    queue = queue_of(Needs(cores=2), Needs(cores=1))
    assert allocator.next_startable(queue) == (1, Slots((3,)))
    assert allocator.next_startable(queue) is None
    allocator.release(100)
    assert allocator.next_startable(queue) == (0, Slots((0, 1)))


def test_once_its_patience_is_spent_the_head_keeps_what_comes_free() -> None:
    allocator = Allocator(HostCapacity(cores=4), patience=1)
    allocator.try_start(100, Needs(cores=2))
    allocator.try_start(101, Needs(cores=1))
    queue = queue_of(Needs(cores=4), Needs(), Needs(), Needs())
    assert allocator.next_startable(queue) == (1, Slots((3,)))  # passes the head once
    allocator.release(101)
    assert allocator.next_startable(queue) is None  # core 2 is kept for the head
    allocator.release(100)
    allocator.release(1)
    assert allocator.next_startable(queue) == (0, Slots((0, 1, 2, 3)))


def test_with_no_patience_later_jobs_use_only_what_the_head_cannot() -> None:
    allocator = Allocator(HOST, patience=0)
    allocator.try_start(100, Needs(cores=2, gpus=2))
    queue = queue_of(Needs(cores=1, gpus=1), Needs(cores=1), Needs(cores=1))
    # The head waits for a GPU, and keeps one core for itself: one plain job may start.
    assert allocator.next_startable(queue) == (1, Slots((2,)))
    assert allocator.next_startable(queue) is None


def test_try_start_ahead_of_the_head_spends_its_patience() -> None:
    allocator = Allocator(HostCapacity(cores=2), patience=1)
    allocator.try_start(100, Needs())
    queue = queue_of(Needs(cores=2))
    assert allocator.next_startable(queue) is None
    assert allocator.try_start(5, Needs()) == Slots((1,))
    allocator.release(5)
    assert allocator.try_start(6, Needs()) is None  # the head keeps core 1 now


def test_a_job_larger_than_the_host_is_refused_naming_it() -> None:
    allocator = Allocator(HOST)
    with pytest.raises(ConfigError) as caught:
        allocator.next_startable(queue_of(Needs(cores=8, gpus=1)))
    assert str(caught.value) == (
        "job 0 needs cores=8 gpus=1, more than this host has (cores=4 gpus=2 mem=16G lic=2); "
        "run it on a machine that holds it"
    )


def test_waiting_jobs_keep_push_order_within_and_across_kinds() -> None:
    queue = WaitingJobs()
    for job, need in [(5, Needs()), (3, Needs(gpus=1)), (9, Needs()), (1, Needs(gpus=1))]:
        queue.push(job, need)
    assert queue.heads() == [(5, Needs()), (3, Needs(gpus=1))]
    assert queue.pop(Needs()) == 5
    assert queue.heads() == [(3, Needs(gpus=1)), (9, Needs())]
    assert len(queue) == 3


def test_host_capacity_takes_gpu_ids_from_the_batch_systems_list() -> None:
    machine = Machine("alpha", 1.0, 8, gpus=2, mem=GIB)
    capacity = host_capacity(machine, [3, 1], {"CUDA_VISIBLE_DEVICES": "4, 6,7"})
    assert capacity == HostCapacity(8, ("4", "6"), GIB, (), (1, 3))
    assert host_capacity(machine, [0], {}).gpus == ("0", "1")


def test_host_capacity_refuses_more_gpus_than_the_host_sees() -> None:
    machine = Machine("alpha", 1.0, 8, gpus=2)
    with pytest.raises(ConfigError) as caught:
        host_capacity(machine, [0], {"CUDA_VISIBLE_DEVICES": "3"})
    assert str(caught.value) == (
        "machine 'alpha' declares 2 GPUs, but CUDA_VISIBLE_DEVICES='3' lets this host see 1; "
        'declare "gpus": 1 in machines.json, or run where 2 are visible'
    )


def test_core_slots_pin_to_cpus_and_share_them_when_declared_beyond() -> None:
    capacity = HostCapacity(cores=4, cpus=(2, 5))
    assert Slots((0, 1, 3)).cpus(capacity) == (2, 5)
    assert Slots((2,)).cpus(capacity) == (2,)
    assert Slots((0,)).cpus(HostCapacity(cores=1)) == ()


# Properties: a simulated host running a random campaign to the end.

needs_strategy = st.builds(
    Needs,
    cores=st.integers(1, 4),
    gpus=st.integers(0, 2),
    mem=st.sampled_from([0, GIB, 4 * GIB]),
    resources=st.sampled_from([(), (("lic", 1),), (("lic", 2),)]),
)
capacities = st.builds(
    HostCapacity,
    cores=st.integers(4, 8),
    gpus=st.sampled_from([("0", "1"), ("0", "1", "2")]),
    mem=st.sampled_from([4 * GIB, 8 * GIB]),
    resources=st.just((("lic", 2),)),
)


def check_not_oversubscribed(allocator: Allocator) -> None:
    held = list(allocator.running.values())
    cores = [core for slots in held for core in slots.cores]
    gpus = [gpu for slots in held for gpu in slots.gpus]
    assert len(cores) == len(set(cores)) and set(cores) <= set(range(allocator.capacity.cores))
    assert len(gpus) == len(set(gpus)) and set(gpus) <= set(allocator.capacity.gpus)
    assert sum(slots.mem for slots in held) <= allocator.capacity.mem
    assert sum(dict(slots.resources).get("lic", 0) for slots in held) <= 2


@given(
    capacities,
    st.lists(st.tuples(needs_strategy, st.integers(1, 5)), max_size=40),
    st.integers(0, 6),
)
def test_a_host_never_oversubscribes_and_runs_every_job(
    capacity: HostCapacity, jobs: list[tuple[Needs, int]], patience: int
) -> None:
    jobs = [(needs, seconds) for needs, seconds in jobs if capacity.holds(needs)]
    allocator = Allocator(capacity, patience)
    queue = WaitingJobs()
    for job, (needs, _) in enumerate(jobs):
        queue.push(job, needs)
    now, ends, started = 0, list[tuple[int, int]](), set[int]()
    while queue or ends:
        while (start := allocator.next_startable(queue)) is not None:
            started.add(start[0])
            heapq.heappush(ends, (now + jobs[start[0]][1], start[0]))
            check_not_oversubscribed(allocator)
        assert ends, "jobs wait but none runs: the host is stuck"
        now, ended = heapq.heappop(ends)
        allocator.release(ended)
    assert started == set(range(len(jobs)))


@given(st.integers(2, 8), st.integers(0, 10), st.lists(st.integers(1, 5), min_size=1))
def test_a_large_job_starts_though_small_ones_keep_coming(
    cores: int, patience: int, durations: list[int]
) -> None:
    allocator = Allocator(HostCapacity(cores=cores), patience)
    queue = WaitingJobs()
    allocator.try_start(-1, Needs())  # something runs, so the large job cannot start at once
    queue.push(0, Needs(cores=cores))
    ends, now, small = [(1, -1)], 0, 1
    starts_before = 0
    while 0 not in allocator.running:
        for _ in range(cores):  # a new small job is always waiting behind the large one
            queue.push(small, Needs())
            small += 1
        while (start := allocator.next_startable(queue)) is not None and start[0] != 0:
            starts_before += 1
            heapq.heappush(ends, (now + durations[start[0] % len(durations)], start[0]))
        if 0 in allocator.running:
            break
        now, ended = heapq.heappop(ends)
        allocator.release(ended)
    assert starts_before <= patience
