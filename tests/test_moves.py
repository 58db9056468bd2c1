"""Tests for splitter.campaign.moves: what each machine keeps, gains and loses between plans."""

from __future__ import annotations

import numpy as np

from splitter.campaign.identity import identify_pool
from splitter.campaign.moves import MachineMoves, PlanShape, plan_moves


def shape(items: list[int], owners: list[int], machines: tuple[str, ...]) -> PlanShape:
    keys = identify_pool(items).keys.words
    return PlanShape("ab" * 32, machines, keys, np.array(owners, dtype=np.uint16))


def test_moves_count_kept_gained_and_lost_jobs_per_machine() -> None:
    before = shape([1, 2, 3, 4], [0, 0, 1, 1], ("alpha", "beta"))
    # 5 is new; 2 moved to beta; 4 left the pool.
    now = shape([1, 2, 3, 5], [0, 1, 1, 0], ("alpha", "beta"))
    moves = plan_moves(before, now)
    assert moves.machines == (
        MachineMoves("alpha", before=2, now=2, keeps=1, gains=1, loses=1),
        MachineMoves("beta", before=2, now=2, keeps=1, gains=1, loses=1),
    )
    assert (moves.new, moves.removed, moves.moved) == (1, 1, 1)


def test_moves_match_jobs_by_key_wherever_they_sit_in_the_pool() -> None:
    before = shape([1, 2, 3], [0, 1, 0], ("alpha", "beta"))
    now = shape([3, 2, 1], [0, 1, 0], ("alpha", "beta"))
    moves = plan_moves(before, now)
    assert (moves.new, moves.removed, moves.moved) == (0, 0, 0)


def test_moves_list_a_machine_no_longer_planned_as_losing_everything() -> None:
    before = shape([1, 2, 3], [0, 1, 2], ("alpha", "beta", "gamma"))
    now = shape([1, 2, 3], [0, 1, 1], ("alpha", "beta"))
    moves = plan_moves(before, now)
    assert moves.machines[-1] == MachineMoves("gamma", before=1, now=0, keeps=0, gains=0, loses=1)
    assert moves.machines[1] == MachineMoves("beta", before=1, now=2, keeps=1, gains=1, loses=0)


def test_the_moves_table_shows_a_line_of_totals_then_each_machine() -> None:
    before = shape([1, 2], [0, 1], ("alpha", "beta"))
    now = shape([1, 2, 3], [0, 0, 1], ("alpha", "beta"))
    assert plan_moves(before, now).table().splitlines() == [
        "since plan abababababababab: 1 new jobs, 0 removed, 1 moved between machines",
        "machine  before  now  keeps  gains  loses",
        "alpha         1    2      1      1      0",
        "beta          1    1      0      1      1",
    ]
