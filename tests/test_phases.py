"""Tests for splitter.campaign.phases and splitter.run.barriers: phases and their barriers."""

from __future__ import annotations

from typing import Any

import pytest

from splitter.campaign.phases import Barrier, PhaseCount, next_phase, no_phases, phases_of
from splitter.run.barriers import Barriers

PHASES = phases_of([0, 0, 1, 1, 2], [Barrier(3, False), Barrier(6, True)])


class FakeEngine:
    def __init__(self) -> None:
        self.given: list[list[int]] = []

    def extend(self, job_ids: Any) -> None:
        self.given.append(list(job_ids))


def test_jobs_split_by_phase_keep_their_order() -> None:
    assert PHASES.jobs_by_phase([4, 3, 0, 2, 1]) == [[0, 1], [3, 2], [4]]
    assert PHASES.count == 3 and PHASES.checked(2) and not PHASES.checked(1)


def test_a_campaign_without_barriers_has_one_phase() -> None:
    assert no_phases(3).count == 1 and no_phases(3).jobs_by_phase([2, 0]) == [[2, 0]]


def test_a_phase_beyond_the_barriers_is_refused() -> None:
    with pytest.raises(ValueError, match="phases run from 0 to 1"):
        phases_of([0, 2], [Barrier(1, False)])


@pytest.mark.parametrize(
    ("counts", "checks", "allowed"),
    [
        ([PhaseCount(2, 2, 0), PhaseCount(2, 0, 0), PhaseCount(1, 0, 0)], [False] * 3, 1),
        ([PhaseCount(2, 1, 0), PhaseCount(2, 0, 0)], [False, False], 0),
        ([PhaseCount(2, 2, 1), PhaseCount(2, 0, 0)], [False, False], 1),
        ([PhaseCount(2, 2, 1), PhaseCount(2, 0, 0)], [False, True], 0),
        ([PhaseCount(2, 2, 0), PhaseCount(2, 2, 0), PhaseCount(1, 0, 0)], [False] * 3, 2),
        ([PhaseCount(0, 0, 0), PhaseCount(2, 0, 0)], [False, False], 1),
    ],
)
def test_next_phase_is_the_last_whose_earlier_phases_are_complete_and_pass_their_checks(
    counts: list[PhaseCount], checks: list[bool], allowed: int
) -> None:
    assert next_phase(counts, checks) == allowed


def test_barriers_hand_the_engine_one_phase_after_the_other() -> None:
    barriers = Barriers(PHASES, [4, 0, 2, 1, 3], [0, 0, 0])
    engine = FakeEngine()
    assert barriers.first() == [0, 1]
    assert barriers.advance(engine) and barriers.advance(engine)
    assert not barriers.advance(engine)
    assert engine.given == [[2, 3], [4]] and barriers.reason is None


def test_a_failure_before_a_barrier_check_stops_at_it() -> None:
    barriers = Barriers(PHASES, [0, 1, 2, 3, 4], [0, 0, 0])
    engine = FakeEngine()
    barriers.first()
    barriers.failed(3)
    assert barriers.advance(engine)  # the plain barrier lets phase 2 start
    assert not barriers.advance(engine)
    assert engine.given == [[2, 3]]
    assert barriers.reason == (
        "the BARRIER CHECK of line 6 holds: 1 jobs before it failed; fix them, then run again"
        " with --retry-failed to go on"
    )


def test_a_failure_recorded_earlier_holds_a_barrier_check_at_once() -> None:
    barriers = Barriers(PHASES, [4], [1, 0, 0])
    assert barriers.first() == [] and barriers.reason is not None


def test_a_static_split_runs_up_to_its_last_phase_and_counts_the_rest_waiting() -> None:
    barriers = Barriers(PHASES, [0, 1, 2, 3, 4], [0, 0, 0], last=0)
    assert barriers.first() == [0, 1]
    assert not barriers.advance(FakeEngine())
    assert barriers.waiting == 3
