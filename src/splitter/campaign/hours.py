"""The hours a workstation lends to a run: ``[owner] hours`` parsed, and checked against a time.

A value is a comma-separated list of windows; the run may run while any
window holds. A window is days, a time range, or days then a time range:

    19:00-07:00                      every night (a range past midnight ends the next day)
    weekdays 19:00-07:00, weekends   nights and weekends
    mon-fri 12:00-13:30, sat, sun    lunch breaks on weekdays, and whole weekends

Days are ``mon`` ... ``sun`` (full names too), a range ``fri-mon`` (it may
wrap round the week), ``weekdays``, ``weekends`` or ``daily``. Times are
``H:MM`` or ``HH:MM``; an end of ``24:00`` is midnight. A night window
belongs to the day it starts on: ``fri 19:00-07:00`` holds until Saturday
07:00. Pure: the caller gives the weekday and the minute of the day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["HOURS_FORMS", "Hours", "Window", "parse_hours"]

HOURS_FORMS = "a list of windows like '19:00-07:00' or 'weekdays 19:00-07:00, weekends'"
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_GROUPS = {
    "weekdays": frozenset(range(5)),
    "weekends": frozenset({5, 6}),
    "daily": frozenset(range(7)),
}
_TIME = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_DAY = 24 * 60


@dataclass(frozen=True)
class Window:
    """Days of the week (0 = Monday) and a range of minutes of the day (None: the whole day)."""

    days: frozenset[int]
    start: int | None = None
    end: int | None = None

    def holds(self, weekday: int, minute: int) -> bool:
        """Whether the window holds at ``minute`` (0..1439) of ``weekday`` (0 = Monday)."""
        if self.start is None or self.end is None:
            return weekday in self.days
        if self.start < self.end:
            return weekday in self.days and self.start <= minute < self.end
        # Past midnight: the evening of a listed day, or the morning after one.
        yesterday = (weekday - 1) % 7
        return (weekday in self.days and minute >= self.start) or (
            yesterday in self.days and minute < self.end
        )


@dataclass(frozen=True)
class Hours:
    """An ``[owner] hours`` value: its text as written, and its windows."""

    text: str
    windows: tuple[Window, ...]

    def holds(self, weekday: int, minute: int) -> bool:
        """Whether any window holds at ``minute`` of ``weekday`` (0 = Monday)."""
        return any(window.holds(weekday, minute) for window in self.windows)


def parse_hours(text: str) -> Hours:
    """The windows of an ``[owner] hours`` value; ValueError naming the part that is wrong."""
    windows = []
    for part in text.split(","):
        words = part.split()
        if not words:
            raise ValueError(f"{HOURS_FORMS} (an empty window between commas)")
        windows.append(_window(words, part.strip()))
    return Hours(" ".join(text.split()), tuple(windows))


def _window(words: list[str], part: str) -> Window:
    if len(words) > 2:
        raise ValueError(f"{HOURS_FORMS} ({part!r} is more than days and a time range)")
    if "-" in words[-1] and any(char.isdigit() for char in words[-1]):
        start, end = _time_range(words[-1], part)
        days = _days(words[0], part) if len(words) == 2 else _GROUPS["daily"]
        return Window(days, start, end)
    if len(words) == 2:
        raise ValueError(f"{HOURS_FORMS} ({words[1]!r} in {part!r} is not a time range)")
    return Window(_days(words[0], part))


def _time_range(word: str, part: str) -> tuple[int, int]:
    first, _, second = word.partition("-")
    start, end = _minute(first, part), _minute(second, part)
    if start == _DAY:
        raise ValueError(f"{HOURS_FORMS} ({part!r} starts at 24:00; start at 00:00)")
    if start == end:
        raise ValueError(
            f"{HOURS_FORMS} ({part!r} starts where it ends; for a whole day write 00:00-24:00 "
            "or days alone)"
        )
    return start, end


def _minute(text: str, part: str) -> int:
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"{HOURS_FORMS} ({text!r} in {part!r} is not a time like 07:00)")
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f"{HOURS_FORMS} ({text!r} in {part!r} is not a time of day)")
    return hours * 60 + minutes


def _days(word: str, part: str) -> frozenset[int]:
    lowered = word.lower()
    if lowered in _GROUPS:
        return _GROUPS[lowered]
    first, dash, last = lowered.partition("-")
    start = _day(first, part)
    if not dash:
        return frozenset({start})
    stop = _day(last, part)
    return frozenset((start + step) % 7 for step in range((stop - start) % 7 + 1))


def _day(word: str, part: str) -> int:
    for index, (name, full) in enumerate(zip(_DAYS, _FULL_DAYS, strict=True)):
        if word in (name, full):
            return index
    raise ValueError(
        f"{HOURS_FORMS} ({word!r} in {part!r} is not a day: mon..sun, a range like mon-fri, "
        "weekdays, weekends or daily)"
    )
