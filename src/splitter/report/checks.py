"""Type checks for values read from JSON a person may have edited: each wrong one named.

    value, where ("'machines'[2] 'rows'") --count / number / text / items / entries--> typed value
                                          or FieldError("... is -3, not a count (...)")

Only values of the expected type pass: a count is an int from 0 to 2^40 (not
a bool, not negative), a number is finite (not NaN or Infinity), text is a
string. Nothing read from disk reaches the page unchecked. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TypeVar

__all__ = [
    "FieldError",
    "count",
    "describe",
    "entries",
    "ids",
    "items",
    "number",
    "optional",
    "text",
]

T = TypeVar("T")
_MAX_COUNT = 1 << 40
_SHOWN_DIGITS = 15


class FieldError(ValueError):
    """A value of the wrong type or range; `sentence` says where, what it is, what it should be."""

    def __init__(self, where: str, value: object, wanted: str) -> None:
        super().__init__(f"{where} is {describe(value)}, not {wanted}")
        self.sentence = str(self)


def describe(value: object) -> str:
    """A value in a few words, never its whole text (it may be huge or hostile)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if value.bit_length() < 50 else "a number of many digits"
    if isinstance(value, float):
        return "NaN or Infinity" if not math.isfinite(value) else f"{value:.{_SHOWN_DIGITS}g}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else "a value of another kind"


def count(value: object, where: str) -> int:
    """A whole number from 0 to 2^40."""
    if type(value) is not int or not 0 <= value <= _MAX_COUNT:
        raise FieldError(where, value, "a count (a whole number, 0 or more)")
    return value


def number(value: object, where: str) -> float:
    """A finite number (int or float, not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError(where, value, "a number")
    try:
        found = float(value)
    except OverflowError:
        raise FieldError(where, value, "a number of seconds or jobs") from None
    if not math.isfinite(found):
        raise FieldError(where, value, "a finite number")
    return found


def text(value: object, where: str) -> str:
    """A string."""
    if not isinstance(value, str):
        raise FieldError(where, value, "a string")
    return value


def optional(check: Callable[[object, str], T]) -> Callable[[object, str], T | None]:
    """`check`, letting null through as None."""

    def checked(value: object, where: str) -> T | None:
        return None if value is None else check(value, where)

    return checked


def items(value: object, where: str, check: Callable[[object, str], T]) -> tuple[T, ...]:
    """A list whose every item passes `check`."""
    if not isinstance(value, list):
        raise FieldError(where, value, "a list")
    return tuple(check(item, f"{where}[{place}]") for place, item in enumerate(value))


def ids(value: object, where: str) -> tuple[int, ...]:
    """A list of job ids (counts), checked in one pass: a report may list millions."""
    if not isinstance(value, list):
        raise FieldError(where, value, "a list of job ids")
    if not all(type(item) is int and 0 <= item <= _MAX_COUNT for item in value):
        for place, item in enumerate(value):
            count(item, f"{where}[{place}]")
    return tuple(value)


def entries(value: object, where: str, check: Callable[[object, str], T]) -> dict[str, T]:
    """An object whose every value passes `check` (JSON keys are always strings)."""
    if not isinstance(value, Mapping):
        raise FieldError(where, value, "an object")
    return {str(key): check(item, f"{where} {str(key)[:40]!r}") for key, item in value.items()}
