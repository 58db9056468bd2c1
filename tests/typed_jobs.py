"""Jobs returning every documented kind of value, for the read_results round trips.

Module-level, so spawned workers import them by name; the tests call them too,
to know what each job returned.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def dict_of_every_kind(item: int) -> dict[str, Any]:
    """One column per kind; item 2 leaves every column empty (None), item 3 draws NaN."""
    if item == 2:
        return dict.fromkeys(DICT_COLUMNS)
    return {
        "i": item - 1,
        "f": float("nan") if item == 3 else item / 3,
        "b": item % 2 == 0,
        "s": "42" if item == 0 else f'text, with "quotes"\nand a line {item}',
        "n": None,
        "np_int": np.int32(item * 7),
        "np_float": np.float64(item + 0.25),
        "np_bool": np.bool_(item > 1),
        "array": np.arange(item + 1, dtype=np.float32) / 4,
        "matrix": np.full((2, 2), item, dtype=np.int64),
        "list": [item, "x", 1.5],
        "dict": {"a": item, "b": [True, None]},
        "pair": (item, "y"),
    }


DICT_COLUMNS = (
    "i", "f", "b", "s", "n", "np_int", "np_float", "np_bool", "array", "matrix", "list", "dict",
    "pair",
)  # fmt: skip


def a_tuple(item: int) -> tuple[int, float, str]:
    return (item, item * 0.5, str(item))


def a_scalar(item: int) -> float:
    return item * 1.5


def nothing(item: int) -> None:
    return None


def late_keys(item: int) -> dict[str, Any]:
    """Odd items add a key the first rows may not have had: a host's `extra` column holds it."""
    return {"x": item} if item % 2 == 0 else {"x": item, "late": item / 2}
