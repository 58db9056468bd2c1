"""The report's plot helpers: user text shown literally by matplotlib."""

from __future__ import annotations

import pytest

from splitter.report.plots import label


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("alpha", "alpha"),
        ("$\\frac{1}{0}$", "\\$\\frac{1}{0}\\$"),  # mathtext would fail to parse, or render
        ("_hidden", "\u200b_hidden"),  # a legend leaves out labels that start with _
        ("x" * 40, "x" * 31 + "\u2026"),
    ],
)
def test_labels_show_user_text_literally(text: str, shown: str) -> None:
    assert label(text) == shown
