"""Tests for splitter.campaign.hours: the `[owner] hours` windows a workstation lends."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from splitter.campaign.hours import Hours, Window, parse_hours

MON, TUE, FRI, SAT, SUN = 0, 1, 4, 5, 6


def at(hours: str, weekday: int, clock: str) -> bool:
    hour, minute = map(int, clock.split(":"))
    return parse_hours(hours).holds(weekday, hour * 60 + minute)


def test_a_night_window_holds_from_its_start_to_its_end_the_next_morning() -> None:
    assert parse_hours("19:00-07:00") == Hours(
        "19:00-07:00", (Window(frozenset(range(7)), 19 * 60, 7 * 60),)
    )
    assert at("19:00-07:00", TUE, "19:00")
    assert at("19:00-07:00", TUE, "23:59")
    assert at("19:00-07:00", TUE, "06:59")
    assert not at("19:00-07:00", TUE, "07:00")
    assert not at("19:00-07:00", TUE, "14:03")


def test_a_day_window_holds_from_its_start_up_to_its_end() -> None:
    assert at("12:00-13:30", MON, "12:00")
    assert at("12:00-13:30", MON, "13:29")
    assert not at("12:00-13:30", MON, "13:30")
    assert not at("12:00-13:30", MON, "11:59")


def test_nights_and_weekends_hold_on_weekday_nights_and_all_weekend() -> None:
    hours = "weekdays 19:00-07:00, weekends"
    assert at(hours, TUE, "22:00")
    assert not at(hours, TUE, "10:00")
    assert at(hours, SAT, "10:00")
    assert at(hours, SUN, "23:00")


def test_a_night_belongs_to_the_day_it_starts_on() -> None:
    # Friday night runs into Saturday morning; Sunday night is not a weekday's.
    assert at("mon-fri 19:00-07:00", SAT, "06:00")
    assert not at("mon-fri 19:00-07:00", MON, "06:00")
    assert at("mon-fri 19:00-07:00", TUE, "06:00")


def test_a_day_range_may_wrap_round_the_week() -> None:
    assert parse_hours("fri-mon").windows == (Window(frozenset({FRI, SAT, SUN, MON})),)
    assert parse_hours("Saturday").windows == (Window(frozenset({SAT})),)


def test_a_whole_day_is_midnight_to_midnight() -> None:
    assert all(at("00:00-24:00", MON, clock) for clock in ("00:00", "12:00", "23:59"))
    assert at("tue 22:00-24:00", TUE, "23:59")
    assert not at("tue 22:00-24:00", TUE, "21:00")


def test_the_text_keeps_what_was_written_with_single_spaces() -> None:
    assert parse_hours("  weekdays   19:00-07:00 ,weekends ").text == (
        "weekdays 19:00-07:00 ,weekends"
    )


FORMS = "a list of windows like '19:00-07:00' or 'weekdays 19:00-07:00, weekends'"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("25:00-07:00", "'25:00' in '25:00-07:00' is not a time of day"),
        ("19:60-07:00", "'19:60' in '19:60-07:00' is not a time of day"),
        ("7pm-7am", "'7pm' in '7pm-7am' is not a time like 07:00"),
        ("19:00-", "'' in '19:00-' is not a time like 07:00"),
        ("19:00-19:00", "'19:00-19:00' starts where it ends; for a whole day write "
         "00:00-24:00 or days alone"),
        ("24:00-07:00", "'24:00-07:00' starts at 24:00; start at 00:00"),
        ("mon-fry 19:00-07:00", "'fry' in 'mon-fry 19:00-07:00' is not a day: mon..sun, a "
         "range like mon-fri, weekdays, weekends or daily"),
        ("19:00-07:00 weekdays", "'weekdays' in '19:00-07:00 weekdays' is not a time range"),
        ("mon 1:00-2:00 extra", "'mon 1:00-2:00 extra' is more than days and a time range"),
        ("19:00-07:00,", "an empty window between commas"),
    ],
)  # fmt: skip
def test_a_malformed_window_names_the_part_that_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_hours(text)
    assert str(caught.value) == f"{FORMS} ({problem})"


@given(st.integers(0, 1439), st.integers(0, 1439), st.integers(0, 6), st.integers(0, 1439))
def test_a_window_and_its_complement_cover_the_day_once(
    start: int, end: int, weekday: int, minute: int
) -> None:
    if start == end:
        return
    window = Window(frozenset(range(7)), start, end)
    rest = Window(frozenset(range(7)), end, start)
    assert window.holds(weekday, minute) != rest.holds(weekday, minute)
