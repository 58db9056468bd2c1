"""The local engine packs jobs with needs into the host's slots: GPUs, cores, memory."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Sequence
from typing import Any

import pytest

import needs_jobs
from splitter.campaign.identity import identify_pool
from splitter.campaign.kinds import job_kinds
from splitter.campaign.needs import NeedsSpec
from splitter.run.engine import FormattedRows, JobPool, JobSetup, Row
from splitter.run.local.allocator import HostCapacity
from splitter.run.local.dispatch import HostSlots
from splitter.run.local.supervisor import Supervisor

GPU_HOST = HostCapacity(cores=4, gpus=("0", "1"), cpus=(0, 1))
KINDS: dict[str, dict[str, Any]] = {
    "plain": {},
    "one-gpu": {"gpus": 1},
    "two-gpus": {"gpus": 2},
    "wide": {"cores": 3},
}


def setup(job: Callable[..., Any]) -> JobSetup:
    return JobSetup(
        job=job, machine="alpha", campaign_seed=bytes(32), config_text="",
        config_source="test.ini", log_level=30, log_format="%(message)s",
        declared_columns=(), nice=0, job_log_dir=None, compression_level=3,
    )  # fmt: skip


def run(
    job: Callable[..., Any],
    items: Sequence[Any],
    needs: NeedsSpec,
    host: HostSlots,
    workers: int = 4,
    key: Callable[[Any], Any] | None = None,
) -> dict[int, Row]:
    """Run every item on the local engine lending ``host``; each job's row by id."""
    keys = identify_pool(list(items), key).keys
    pool = JobPool(list(items), keys, key, job_kinds(items, needs))
    logs: list[dict[str, Any]] = []
    supervisor = Supervisor(setup(job), pool, range(len(items)), workers, logs.append, None, host)
    supervisor.start()
    rows: list[Row] = []
    try:
        while not supervisor.finished:
            for received in supervisor.step(0.05):
                assert not isinstance(received, FormattedRows)
                rows.append(received)
    finally:
        supervisor.close()
    assert sorted(row[0] for row in rows) == list(range(len(items))), logs
    return {row[0]: row for row in rows}


def mixed(count: int, seconds: float = 0.15) -> list[tuple[int, float, str]]:
    names = itertools.cycle(["one-gpu", "plain", "two-gpus", "wide", "one-gpu", "plain"])
    return [(index, seconds, next(names)) for index in range(count)]


def by_kind(item: tuple[int, float, str]) -> dict[str, Any]:
    return KINDS[item[2]]


def overlapping(rows: dict[int, Row]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    values = [row[5] for row in rows.values()]
    return [
        (a, b)
        for a, b in itertools.combinations(values, 2)
        if a["start"] < b["end"] and b["start"] < a["end"]
    ]


@pytest.fixture(scope="module")
def packed() -> dict[int, Row]:
    return run(needs_jobs.record_slots, mixed(36), by_kind, HostSlots(GPU_HOST))


def test_every_job_is_told_the_gpus_and_cores_it_holds(packed: dict[int, Row]) -> None:
    items = mixed(36)
    for job, row in packed.items():
        value, kind = row[5], KINDS[items[job][2]]
        assert row[1] == "ok"
        held = value["gpus"].split(",") if value["gpus"] else []
        assert len(held) == kind.get("gpus", 0)
        assert set(held) <= {"0", "1"}
        assert value["cuda"] == value["gpus"] == value["resource_gpus"]
        assert value["cores"] == value["resource_cores"] == kind.get("cores", 1)
        assert value["omp"] == str(value["cores"])


def test_no_two_running_jobs_ever_hold_the_same_gpu(packed: dict[int, Row]) -> None:
    for a, b in overlapping(packed):
        shared = set(filter(None, a["gpus"].split(","))) & set(filter(None, b["gpus"].split(",")))
        assert not shared, (a, b)


def test_a_job_needing_two_gpus_never_overlaps_another_gpu_job(packed: dict[int, Row]) -> None:
    for a, b in overlapping(packed):
        if "," in a["gpus"] or "," in b["gpus"]:
            assert not (a["gpus"] and b["gpus"]), (a, b)


def test_cores_are_never_oversubscribed(packed: dict[int, Row]) -> None:
    values = [row[5] for row in packed.values()]
    for moment in sorted(value["start"] for value in values):
        running = [v for v in values if v["start"] <= moment < v["end"]]
        assert sum(value["cores"] for value in running) <= GPU_HOST.cores


def test_jobs_run_side_by_side_when_their_slots_allow(packed: dict[int, Row]) -> None:
    assert any(a["gpus"] and b["gpus"] for a, b in overlapping(packed))


def test_a_thread_count_the_user_set_is_kept() -> None:
    host = HostSlots(HostCapacity(cores=2), environ={"OMP_NUM_THREADS": "7"})
    rows = run(needs_jobs.record_slots, [(0, 0.0, "wide")], {"cores": 2}, host)
    assert (rows[0][5]["omp"], rows[0][5]["cores"]) == (None, 2)


def test_named_counts_reach_the_job() -> None:
    host = HostSlots(HostCapacity(cores=2, resources=(("licences", 3),)))
    rows = run(needs_jobs.record_slots, [(0, 0.0, "x")], {"licences": 2}, host)
    assert rows[0][5]["licence"] == "2"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="CPU affinity is Linux's")
def test_pinned_jobs_run_on_the_cpus_of_their_core_slots() -> None:
    host = HostSlots(HostCapacity(cores=2, cpus=(0, 1)), pin_cores=True)
    items = [(index, 0.1, "wide" if index % 3 == 0 else "plain") for index in range(9)]
    needs = lambda item: {"cores": 2} if item[2] == "wide" else {}  # noqa: E731
    rows = run(needs_jobs.record_slots, items, needs, host, workers=2)
    for job, row in rows.items():
        assert row[5]["affinity"] == row[5]["cpus"]
        assert row[5]["cpus"] == ([0, 1] if job % 3 == 0 else row[5]["cpus"][:1])


def test_plain_jobs_each_get_one_core_and_no_gpu_on_a_gpu_host() -> None:
    items = [(index, 0.0, "plain") for index in range(8)]
    rows = run(needs_jobs.record_slots, items, None, HostSlots(GPU_HOST), workers=2)
    assert {(r[5]["cores"], r[5]["cuda"], r[5]["omp"]) for r in rows.values()} == {(1, "", "1")}


MEMORY_HOST = HostCapacity(cores=2, mem=2**30)


def test_a_python_job_that_allocates_past_its_declared_memory_is_an_error_and_the_rest_run() -> (
    None
):
    host = HostSlots(MEMORY_HOST, enforce_mem=True)
    rows = run(needs_jobs.allocate, [400, 8, 16], {"mem": "64M"}, host, workers=1)
    assert (rows[0][1], rows[0][4]) == ("error", "used more than its 64 MiB (MemoryError)")
    assert [(rows[job][1], rows[job][5]) for job in (1, 2)] == [("ok", 8), ("ok", 16)]


def test_without_enforce_mem_a_job_may_use_more_than_it_declared() -> None:
    rows = run(needs_jobs.allocate, [100], {"mem": "64M"}, HostSlots(MEMORY_HOST), workers=1)
    assert (rows[0][1], rows[0][5]) == ("ok", 100)


ALLOCATE_AND_WAIT = (
    f"{sys.executable} -c 'import time; b = bytearray({{}} * 2**20); "
    'b[::4096] = b"x" * len(b[::4096]); time.sleep(3)\''
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_shell_task_whose_processes_outgrow_its_memory_is_stopped_and_an_error() -> None:
    from splitter.campaign.directives import expand, task_key
    from splitter.run.shelltask import TaskJob

    text = f"#SPLITTER NEEDS mem=100M\n{ALLOCATE_AND_WAIT.format(300)}\ntrue\n"
    tasks = expand(text, "tasks.txt").tasks
    host = HostSlots(MEMORY_HOST, enforce_mem=True)
    rows = run(TaskJob(), tasks, lambda task: task.needs, host, workers=1, key=task_key)
    assert (rows[0][1], rows[0][4]) == (
        "error", "used more than its 100 MiB; its processes were stopped"
    )  # fmt: skip
    assert rows[0][3] < 2.5
    assert rows[1][1] == "ok"


def test_resources_are_injected_only_into_jobs_that_name_them() -> None:
    from splitter.run.injection import injected_names

    def named(x: int, *, resources: object) -> None: ...
    def spread(x: int, **kwargs: object) -> None: ...

    assert "resources" in injected_names(named)
    assert "resources" not in injected_names(spread)
