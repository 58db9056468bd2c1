"""The bounded sample of result values: every stride-th row of all rows, however they arrive."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from splitter.report.sample import ValueSample


def feed(sample: ValueSample, pieces: list[int]) -> None:
    """Feed pieces of the given sizes, where row r's value of column x is r."""
    for size in pieces:
        picked = sample.picked(size)
        sample.add(size, picked, {"x": (sample.seen + picked).astype(np.float64)})


@given(st.lists(st.integers(min_value=0, max_value=60), max_size=30),
       st.integers(min_value=1, max_value=40))  # fmt: skip
def test_the_sample_is_every_stride_th_row_and_stays_within_its_limit(
    pieces: list[int], limit: int
) -> None:
    sample = ValueSample(["x"], limit=limit)
    feed(sample, pieces)
    rows = sum(pieces)
    kept = sample.columns().get("x", np.zeros(0)).tolist()
    assert kept == [float(r) for r in range(0, rows, sample.stride)]
    assert len(kept) <= limit
    assert sample.stride == 1 or rows > limit


def test_a_column_with_text_in_a_sampled_cell_is_left_out() -> None:
    sample = ValueSample(["x", "y"])
    sample.add(2, sample.picked(2), {"x": np.array([1.0, 2.0]), "y": np.array([1.0, 2.0])})
    sample.add(2, sample.picked(2), {"x": np.array([3.0, 4.0]), "y": None})
    assert sample.wanted == ("x",)
    assert list(sample.columns()) == ["x"]


def test_a_column_of_only_empty_cells_is_left_out() -> None:
    sample = ValueSample(["x"])
    sample.add(2, sample.picked(2), {"x": np.array([np.nan, np.nan])})
    assert sample.columns() == {}
