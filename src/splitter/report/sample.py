"""A bounded sample of the results' numeric columns: every `stride`-th row, thinned as rows come.

    rows 0, 1, 2, ... --picked (row % stride == 0)--> cells --add--> at most `limit` rows kept
                       when more: stride x 2, and only the rows that fit the new stride stay

However many rows stream past, the sample is every `stride`-th row of all of
them (a systematic sample, spread over the whole file) and holds at most
`limit` rows: 3 x 10^6 rows keep 93,750 of each column (every 32nd). A column
whose sampled cell is text, not a number, is left out; empty cells (failed
rows) are NaN. Pure: the reader hands in the cells it parsed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["ValueSample"]

T = TypeVar("T", bound=np.generic)

_LIMIT = 100_000


class ValueSample:
    """Every `stride`-th row's numbers of the columns `names`, at most `limit` rows."""

    def __init__(self, names: Sequence[str], limit: int = _LIMIT) -> None:
        self.names = tuple(names)
        self.limit = limit
        self.stride = 1
        self.seen = 0  # rows streamed past so far
        self.numeric = dict.fromkeys(self.names, True)
        self._rows: list[npt.NDArray[np.int64]] = []
        self._values: dict[str, list[npt.NDArray[np.float64]]] = {name: [] for name in names}
        self._kept = 0

    @property
    def wanted(self) -> tuple[str, ...]:
        """The columns still numeric, whose cells the reader should parse."""
        return tuple(name for name in self.names if self.numeric[name])

    def picked(self, count: int) -> npt.NDArray[np.intp]:
        """Which of the next `count` rows (0-based within them) are sampled."""
        first = -self.seen % self.stride
        return np.arange(first, count, self.stride, dtype=np.intp)

    def add(
        self,
        count: int,
        picked: npt.NDArray[np.intp],
        values: Mapping[str, npt.NDArray[np.float64] | None],
    ) -> None:
        """Keep the `picked` rows' `values` (None: not numeric) of the next `count` rows."""
        for name in self.wanted:
            column = values.get(name)
            if column is None:
                self.numeric[name] = False
                self._values[name] = []
            else:
                self._values[name].append(column)
        self._rows.append(self.seen + picked.astype(np.int64))
        self._kept += len(picked)
        self.seen += count
        while self._kept > self.limit:
            self._thin()

    def columns(self) -> dict[str, npt.NDArray[np.float64]]:
        """The numeric columns that hold at least one number, in `names` order."""
        found = {}
        for name in self.wanted:
            column = _joined(self._values[name])
            if np.isfinite(column).any():
                found[name] = column
        return found

    def _thin(self) -> None:
        self.stride *= 2
        rows = _joined(self._rows)
        keep = rows % self.stride == 0
        self._rows = [rows[keep]]
        for name in self.wanted:
            self._values[name] = [_joined(self._values[name])[keep]]
        self._kept = int(keep.sum())


def _joined(parts: Sequence[npt.NDArray[T]]) -> npt.NDArray[T]:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float64)
