"""The progress display's texts."""

from __future__ import annotations

import io

from splitter.run.display import ProgressDisplay, format_seconds


def test_seconds_read_as_hours_minutes_and_seconds() -> None:
    assert [format_seconds(s) for s in (0, 12.4, 187, 3725)] == ["0s", "12s", "3m07s", "1h02m05s"]


def test_the_plain_line_counts_the_share_and_estimates_the_rest() -> None:
    display = ProgressDisplay(
        "alpha", 100, 10, interactive=False, interval=30, stream=io.StringIO()
    )
    display.advance(ok=35, failed=5)
    line = display.summary_line(display._started + 4.0)
    assert line == "50/100 jobs (35 ok, 5 failed), 10.0 jobs/s, about 5s left"
