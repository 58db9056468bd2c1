"""Tests for splitter.store.planfile: plan.zst written and read back, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from splitter.campaign.phases import Barrier
from splitter.store.frames import CorruptFileError, FrameWriter
from splitter.store.planfile import PLAN_FILE, PlanRecord, read_plan_file, write_plan_file


def record(jobs: int = 5) -> PlanRecord:
    keys = np.arange(2 * jobs, dtype=np.uint64).reshape(jobs, 2) * np.uint64(0x9E3779B97F4A7C15)
    owners = (np.arange(jobs) % 3).astype(np.uint16)
    return PlanRecord("ab" * 32, "cd" * 32, ("alpha", "beta", "gamma"), keys, owners)


def test_a_plan_file_round_trips_its_digests_machines_keys_and_owners(tmp_path: Path) -> None:
    written = record()
    assert write_plan_file(tmp_path, written) == tmp_path / PLAN_FILE
    read = read_plan_file(tmp_path)
    assert read is not None
    assert (read.plan_digest, read.pool_digest, read.machines) == (
        written.plan_digest, written.pool_digest, written.machines,
    )  # fmt: skip
    assert (read.keys == written.keys).all()
    assert read.owners.tolist() == [0, 1, 2, 0, 1]


def test_a_plan_of_no_jobs_round_trips(tmp_path: Path) -> None:
    write_plan_file(tmp_path, record(0))
    read = read_plan_file(tmp_path)
    assert read is not None and read.total == 0


def test_a_folder_without_a_plan_file_has_none(tmp_path: Path) -> None:
    assert read_plan_file(tmp_path) is None


def test_writing_replaces_the_file_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    write_plan_file(tmp_path, record(5))
    write_plan_file(tmp_path, record(7))
    read = read_plan_file(tmp_path)
    assert read is not None and read.total == 7
    assert [path.name for path in tmp_path.iterdir()] == [PLAN_FILE]


def test_a_cut_off_plan_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = write_plan_file(tmp_path, record(50))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CorruptFileError, match=r"plan\.zst is cut off or damaged; restore"):
        read_plan_file(tmp_path)


def test_a_plan_file_that_is_not_ours_is_refused(tmp_path: Path) -> None:
    with FrameWriter(tmp_path / PLAN_FILE) as frames:
        frames.write_frame(b'{"format": 9}')
    with pytest.raises(CorruptFileError, match=r"has a plan header splitter did not write"):
        read_plan_file(tmp_path)


def test_an_owner_beyond_the_machines_is_refused(tmp_path: Path) -> None:
    bad = record()
    bad.owners[2] = 7
    write_plan_file(tmp_path, bad)
    with pytest.raises(CorruptFileError, match=r"names an owner that is not one of its machines"):
        read_plan_file(tmp_path)


def test_a_plan_file_round_trips_each_jobs_phase_and_the_barriers(tmp_path: Path) -> None:
    written = record(5)
    phased = PlanRecord(
        written.plan_digest, written.pool_digest, written.machines, written.keys,
        written.owners, np.array([0, 0, 1, 2, 2], dtype=np.uint16),
        (Barrier(3, False), Barrier(7, True)),
    )  # fmt: skip
    write_plan_file(tmp_path, phased)
    read = read_plan_file(tmp_path)
    assert read is not None
    assert read.phase_of().tolist() == [0, 0, 1, 2, 2]
    assert read.barriers == (Barrier(3, False), Barrier(7, True))


def test_a_plan_without_barriers_has_every_job_in_phase_zero(tmp_path: Path) -> None:
    write_plan_file(tmp_path, record(4))
    read = read_plan_file(tmp_path)
    assert read is not None
    assert read.phase_of().tolist() == [0, 0, 0, 0] and read.barriers == ()
