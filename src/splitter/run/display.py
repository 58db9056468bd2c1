"""Live progress on the host's console: tqdm bars on a terminal, plain lines elsewhere.

The parent calls ``advance`` once per batch of rows and ``refresh`` a few
times a second; neither looks at more than the counters and the running
jobs, so the display costs O(1) per job however long the share is. A bar is
drawn only by ``refresh`` and ``close``, its count and its ok/failed counts
from the same moment. While the run is paused (``set_pause``) it says so,
and the rate and the time left count only the time it ran.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import IO, Any

from splitter.run.engine import RunningJob

__all__ = ["WARMUP_SECONDS", "ProgressDisplay", "RateMeter", "format_seconds"]

RUNNING_LINES = 3
REFRESH_SECONDS = 0.2
# tqdm's own layout less its rate and time left: the postfix shows ours (see `RateMeter`),
# the same figures as the plain lines, so the bar never shows two estimates.
_BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"
WARMUP_SECONDS = 5.0
"""The first seconds of a run (workers starting, imports) that the rate ignores."""

log = logging.getLogger("splitter.progress")


def format_seconds(seconds: float) -> str:
    """``1h02m05s``, ``3m07s`` or ``12s``: short enough for a progress line."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class RateMeter:
    """Jobs per second of this run, counted from ``warmup`` seconds in: start-up is not speed.

    Before the warm-up ends (or before a job finishes after it) the rate is
    the one since the start, the best there is then.
    """

    def __init__(self, started: float, done: int, warmup: float = WARMUP_SECONDS) -> None:
        self._start = (started, done)
        self._warmup = warmup
        self._mark: tuple[float, int] | None = None

    def update(self, now: float, done: int) -> None:
        """Note the count once the warm-up is over."""
        if self._mark is None and now - self._start[0] >= self._warmup:
            self._mark = (now, done)

    def rate(self, now: float, done: int) -> float:
        """Jobs per second; 0.0 while no job has finished."""
        self.update(now, done)
        for since, base in (self._mark or self._start, self._start):
            if now > since and done > base:
                return (done - base) / (now - since)
        return 0.0


class ProgressDisplay:
    """Progress of one host's share: done, ok and failed counts, rate and time left."""

    def __init__(
        self,
        machine: str,
        total: int,
        already_done: int,
        *,
        interactive: bool,
        interval: float,
        stream: IO[str],
    ) -> None:
        self.machine = machine
        self.total = total
        self.done = already_done
        self.ok = 0
        self.failed = 0
        self._started = time.monotonic()
        self.meter = RateMeter(self._started, already_done)
        self._interval = interval
        self._next_line = self._started + interval
        self._next_refresh = 0.0
        self._bar: Any = None
        self._job_bars: list[Any] = []
        self._pause_note: str | None = None
        self._paused_at: float | None = None
        self._paused_total = 0.0
        if interactive:
            # Imported only for a terminal: a batch host's start-up skips it.
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, initial=already_done, desc=machine, unit="job",
                file=stream, dynamic_ncols=True, bar_format=_BAR_FORMAT,
            )  # fmt: skip
            self._job_bars = [
                tqdm(total=1, position=i + 1, file=stream, leave=False, bar_format="{desc}")
                for i in range(RUNNING_LINES)
            ]

    def advance(self, ok: int, failed: int) -> None:
        """Count finished jobs."""
        self.ok += ok
        self.failed += failed
        self.done += ok + failed

    def set_pause(self, note: str | None) -> None:
        """Say ``note`` (``paused since 14:03 (by hand)``) until called with None."""
        now = time.monotonic()
        if note is not None and self._paused_at is None:
            self._paused_at = now
        elif note is None and self._paused_at is not None:
            self._paused_total += now - self._paused_at
            self._paused_at = None
        self._pause_note = note
        self._next_refresh = 0.0

    def _active(self, now: float) -> float:
        """``now`` on a clock that stands still while the run is paused."""
        paused = self._paused_total
        if self._paused_at is not None:
            paused += now - self._paused_at
        return now - paused

    def refresh(self, running: Sequence[RunningJob]) -> None:
        """Redraw (a terminal) or print a line every interval (no terminal)."""
        now = time.monotonic()
        self.meter.update(self._active(now), self.done)
        if self._bar is None:
            if now >= self._next_line:
                self._next_line = now + self._interval
                log.info("%s", self.summary_line(now))
            return
        if now < self._next_refresh:
            return
        self._next_refresh = now + REFRESH_SECONDS
        self._draw(now, final=False)
        reporting = [job for job in running if job.base > 0]
        for bar, job in zip(self._job_bars, [*reporting, *[None] * RUNNING_LINES], strict=False):
            bar.set_description_str(_job_line(job), refresh=True)

    def _draw(self, now: float, *, final: bool) -> None:
        """Redraw the bar: its count and the postfix's from the same moment, never apart."""
        self._bar.n = self.done
        self._bar.set_postfix_str(self._postfix(now, final=final), refresh=False)
        self._bar.refresh()

    def _postfix(self, now: float, *, final: bool) -> str:
        """``ok=288 failed=12, 35.2 jobs/s, eta 16s``; the last one has no time left."""
        text = f"ok={self.ok} failed={self.failed}"
        rate = self.meter.rate(self._active(now), self.done)
        if rate > 0:
            text += f", {rate:.1f} jobs/s"
        if self._pause_note is not None and not final:
            text += f", {self._pause_note}"
        elif rate > 0 and not final:
            text += f", eta {format_seconds((self.total - self.done) / rate)}"
        return text

    def summary_line(self, now: float | None = None) -> str:
        """``412/1000 jobs (400 ok, 12 failed), 35.2 jobs/s, about 16s left``."""
        rate = self.rate(now)
        line = f"{self.done}/{self.total} jobs ({self.ok} ok, {self.failed} failed)"
        if rate > 0:
            left = format_seconds((self.total - self.done) / rate)
            line += f", {rate:.1f} jobs/s, about {left} left"
        if self._pause_note is not None:
            line += f"; {self._pause_note}"
        return line

    def rate(self, now: float | None = None) -> float:
        """This run's jobs per second, the first seconds ignored (see `RateMeter`)."""
        return self.meter.rate(self._active(now or time.monotonic()), self.done)

    def close(self) -> None:
        """Remove the job lines and leave the main bar in place, with the final counts."""
        for bar in self._job_bars:
            bar.close()
        if self._bar is not None:
            self._draw(time.monotonic(), final=True)
            self._bar.close()


def _job_line(job: RunningJob | None) -> str:
    if job is None:
        return ""
    fraction = min(max(job.progress / job.base, 0.0), 1.0)
    filled = int(fraction * 20)
    return (
        f"  job {job.job_id:>8}  {fraction:6.1%} |{'#' * filled}{' ' * (20 - filled)}| "
        f"{format_seconds(job.seconds)}"
    )
