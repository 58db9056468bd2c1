"""Module-level jobs for the supervisor tests (spawned workers import them by name)."""

from __future__ import annotations

import os
import time


def square(x: int) -> int:
    return x * x


def crash_on_three(x: int) -> int:
    if x == 3:
        os._exit(9)
    return x


def sleep_on_five(x: int) -> int:
    if x == 5:
        time.sleep(60)
    return x


def draws(x: int, *, random_obj) -> tuple[float, int]:
    return random_obj.random(), int(random_obj.numpy.integers(1 << 30))


def exits_at_import_time(x: int) -> int:
    return x


def no_keywords(x: int) -> int:
    return x


class KillsWhenPickled:
    """A result whose pickling (to send it to the parent) kills the worker."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        os._exit(7)


def kill_worker_after_returning_on_two(x: int) -> object:
    return KillsWhenPickled() if x == 2 else x


def fork_and_return(x: int) -> int:
    os.fork()  # Both the worker and its child return from here.
    return x


def raise_keyboard_interrupt(x: int) -> int:
    if x == 1:
        raise KeyboardInterrupt
    return x


def lambda_on_odd(x: int) -> dict[str, object]:
    """Odd items return a value that cannot be pickled back to the parent."""
    return {"x": x, "f": lambda: 1} if x % 2 else {"x": x}


def nap(x: int) -> int:
    """A job that sleeps half a second."""
    time.sleep(0.5)
    return x


def item_value(item: object) -> object:
    return getattr(item, "value", item)
