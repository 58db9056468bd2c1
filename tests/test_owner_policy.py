"""Tests for splitter.run.owner.policy: the pure decision from readings, no clock, no processes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from splitter.campaign.hours import parse_hours
from splitter.campaign.owner import OwnerSettings
from splitter.run.owner.policy import PolicyState, Readings, decide, holding_rule

TUESDAY, SATURDAY = 1, 5
NOON, NIGHT = 12 * 60, 22 * 60
LOAD = OwnerSettings(max_load=1.5, grace=60)
LOAD_REASON = "load of other processes above 1.5"


def reading(
    clock: float = 0.0,
    *,
    weekday: int = TUESDAY,
    minute: int = NOON,
    load: float | None = None,
    idle: float | None = None,
) -> Readings:
    return Readings(clock, weekday, minute, load, idle)


def test_with_no_rule_the_run_is_never_paused() -> None:
    assert decide(OwnerSettings(), reading(load=30.0, idle=0.0), PolicyState()) == PolicyState()


def test_others_load_above_the_threshold_pauses_at_once() -> None:
    assert decide(LOAD, reading(load=1.6), PolicyState()) == PolicyState(LOAD_REASON)
    assert decide(LOAD, reading(load=1.5), PolicyState()) == PolicyState()


def test_a_cleared_condition_continues_only_after_the_grace_period() -> None:
    paused = PolicyState(LOAD_REASON)
    clearing = decide(LOAD, reading(100.0, load=0.2), paused)
    assert clearing == PolicyState(LOAD_REASON, clear_since=100.0)
    assert decide(LOAD, reading(159.9, load=0.2), clearing) == clearing
    assert decide(LOAD, reading(160.0, load=0.2), clearing) == PolicyState()


def test_the_condition_back_within_the_grace_period_starts_it_again() -> None:
    clearing = PolicyState(LOAD_REASON, clear_since=100.0)
    again = decide(LOAD, reading(130.0, load=2.0), clearing)
    assert again == PolicyState(LOAD_REASON)
    assert decide(LOAD, reading(170.0, load=0.1), again) == PolicyState(LOAD_REASON, 170.0)


def test_no_grace_continues_on_the_first_clear_reading() -> None:
    rules = OwnerSettings(max_load=1.0, grace=0)
    assert decide(rules, reading(5.0, load=0.0), PolicyState(LOAD_REASON)) == PolicyState()


def test_keyboard_use_within_the_minutes_pauses() -> None:
    rules = OwnerSettings(idle_minutes=15)
    assert holding_rule(rules, reading(idle=14 * 60.0)) == (
        "keyboard or mouse used in the last 15 min"
    )
    assert holding_rule(rules, reading(idle=15 * 60.0)) is None


def test_a_reading_that_cannot_be_taken_never_holds_its_rule() -> None:
    rules = OwnerSettings(max_load=0.1, idle_minutes=600)
    assert holding_rule(rules, reading(load=None, idle=None)) is None


def test_outside_the_hours_the_run_pauses_and_inside_it_goes_on() -> None:
    rules = OwnerSettings(hours=parse_hours("weekdays 19:00-07:00, weekends"))
    assert holding_rule(rules, reading(minute=NOON)) == (
        "outside hours weekdays 19:00-07:00, weekends"
    )
    assert holding_rule(rules, reading(minute=NIGHT)) is None
    assert holding_rule(rules, reading(weekday=SATURDAY, minute=NOON)) is None


def test_the_hours_rule_is_named_before_the_others() -> None:
    rules = OwnerSettings(max_load=1.0, idle_minutes=1, hours=parse_hours("sat"))
    assert holding_rule(rules, reading(load=9.0, idle=0.0)) == "outside hours sat"


@given(st.lists(st.tuples(st.floats(0, 5), st.floats(0.1, 30)), max_size=40))
def test_the_run_continues_only_after_grace_seconds_with_no_rule_holding(
    steps: list[tuple[float, float]],
) -> None:
    state, clock, clear_since = PolicyState(), 0.0, None
    for load, elapsed in steps:
        clock += elapsed
        was_paused = state.reason is not None
        state = decide(LOAD, reading(clock, load=load), state)
        if load > 1.5:
            assert state.reason == LOAD_REASON
            clear_since = None
            continue
        clear_since = clock if clear_since is None else clear_since
        if was_paused and state.reason is None:
            assert clock - clear_since >= LOAD.grace
        if state.reason is not None:
            assert clock - clear_since < LOAD.grace
