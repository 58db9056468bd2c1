"""The progress display's texts."""

from __future__ import annotations

import io

import pytest

from splitter.run import display as display_module
from splitter.run.display import ProgressDisplay, RateMeter, format_seconds


def test_seconds_read_as_hours_minutes_and_seconds() -> None:
    assert [format_seconds(s) for s in (0, 12.4, 187, 3725)] == ["0s", "12s", "3m07s", "1h02m05s"]


def test_the_plain_line_counts_the_share_and_estimates_the_rest() -> None:
    display = ProgressDisplay(
        "alpha", 100, 10, interactive=False, interval=30, stream=io.StringIO()
    )
    display.advance(ok=35, failed=5)
    line = display.summary_line(display._started + 4.0)
    assert line == "50/100 jobs (35 ok, 5 failed), 10.0 jobs/s, about 5s left"


def test_the_rate_ignores_the_first_seconds_once_they_are_over() -> None:
    meter = RateMeter(started=100.0, done=0, warmup=5.0)
    meter.update(102.0, 2)
    meter.update(105.0, 10)  # warm-up over: counted from here
    assert meter.rate(110.0, 60) == 10.0


def test_before_the_warm_up_ends_the_rate_counts_from_the_start() -> None:
    meter = RateMeter(started=100.0, done=4, warmup=5.0)
    assert meter.rate(102.0, 10) == 3.0


def test_with_no_job_finished_since_the_warm_up_the_rate_counts_from_the_start() -> None:
    meter = RateMeter(started=100.0, done=0, warmup=5.0)
    meter.update(105.0, 20)
    assert meter.rate(108.0, 20) == 2.5


def test_the_rate_is_zero_until_a_job_finishes() -> None:
    assert RateMeter(started=100.0, done=0).rate(101.0, 0) == 0.0


def _last_drawn(stream: io.StringIO) -> str:
    """The main bar as a terminal shows it last: the text after its last carriage return."""
    drawn = [part for part in stream.getvalue().replace("\n", "\r").split("\r") if "alpha" in part]
    return drawn[-1]


def test_the_bar_shows_one_time_left_while_it_runs() -> None:
    stream = io.StringIO()
    display = ProgressDisplay("alpha", 300, 0, interactive=True, interval=30, stream=stream)
    display.meter = RateMeter(display._started - 10.0, 0, warmup=5.0)
    display.advance(ok=100, failed=2)
    display.refresh([])
    line = _last_drawn(stream)
    display.close()
    assert "102/300" in line and "ok=100 failed=2, " in line
    assert line.count("eta ") == 1 and "<" not in line


def test_the_final_bar_shows_the_final_counts_and_no_time_left() -> None:
    stream = io.StringIO()
    display = ProgressDisplay("alpha", 300, 0, interactive=True, interval=30, stream=stream)
    display.advance(ok=288, failed=0)
    display.refresh([])  # drawn with 288 ok...
    display.advance(ok=12, failed=0)  # ...and the last 12 finish before the next redraw
    display.close()
    line = _last_drawn(stream)
    assert "300/300" in line and "ok=300 failed=0" in line
    assert "eta" not in line and "<" not in line


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now


def test_a_paused_run_says_so_and_its_rate_leaves_the_paused_time_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _Clock(1000.0)
    monkeypatch.setattr(display_module, "time", clock)
    display = ProgressDisplay(
        "alpha", 100, 10, interactive=False, interval=30, stream=io.StringIO()
    )
    clock.now = 1002.0
    display.set_pause("paused since 14:03 (by hand)")
    clock.now = 1012.0
    display.set_pause(None)
    display.advance(ok=35, failed=5)
    assert display.summary_line(1014.0) == (
        "50/100 jobs (35 ok, 5 failed), 10.0 jobs/s, about 5s left"
    )
    clock.now = 1014.0
    display.set_pause("paused since 14:05 (outside hours 19:00-07:00)")
    assert display.summary_line(1020.0) == (
        "50/100 jobs (35 ok, 5 failed), 10.0 jobs/s, about 5s left; "
        "paused since 14:05 (outside hours 19:00-07:00)"
    )
