"""Counting a share's outcomes: earlier runs' recorded ones plus this run's.

Pure: the runner feeds it counts, and it says what the summary line,
manifest.json and the exit code report. This run's rows count only once
their flush reached the results file (`Tally.add`, then `Tally.written`), so a
full disk never leaves counts of rows that are not there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from splitter.errors import EXIT_FAILED_JOBS, EXIT_INTERRUPTED, EXIT_OK
from splitter.run.display import format_seconds
from splitter.store.logfile import LOG_NAME
from splitter.store.rowformat import FAILED_STATUSES

__all__ = ["RunSummary", "Tally"]


@dataclass(frozen=True)
class RunSummary:
    """The share's state after a run: counts over the whole share, not only this run."""

    machine: str
    folder: Path
    share: int
    ran: int
    skipped: int
    ok: int
    failed: dict[str, int]
    remaining: int
    interrupted: bool
    seconds: float
    stopped: str | None = None
    """Why the run stopped early on purpose (``--max-failures``, a BARRIER CHECK), else None."""
    waiting: str | None = None
    """What to do next when later phases of the share wait for ``run --after M``."""

    @property
    def exit_code(self) -> int:
        """130 when interrupted, 1 when stopped early or any job of the share failed, else 0."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        failed = sum(self.failed.values()) or self.stopped
        return EXIT_FAILED_JOBS if failed else EXIT_OK

    @property
    def state(self) -> str:
        """What manifest.json says of the run: finished, interrupted or stopped."""
        if self.interrupted:
            return "interrupted"
        if self.stopped:
            return "stopped"
        return "waiting" if self.waiting else "finished"

    def line(self) -> str:
        """One line for the console and the log."""
        failed = ", ".join(f"{n} {status}" for status, n in self.failed.items() if n) or "0 failed"
        text = (
            f"{self.machine}: {self.ok}/{self.share} ok, {failed}, {self.remaining} remaining; "
            f"ran {self.ran} jobs in {format_seconds(self.seconds)}, skipped {self.skipped} "
            f"recorded earlier; results in {self.folder}"
        )
        if sum(self.failed.values()):
            text += (
                f"; the failures' tracebacks are in {self.folder / LOG_NAME}, and --retry-failed"
                " reruns them"
            )
        if self.stopped:
            return f"{text} (stopped: {self.stopped}; run again to resume)"
        return text + (" (interrupted: run again to resume)" if self.interrupted else "")


class Tally:
    """Counts over the whole share, merging earlier recorded outcomes with this run."""

    def __init__(self, share: int, skipped: int, ok: int, failed: dict[str, int]) -> None:
        self.share = share
        self.skipped = skipped
        self.ok = ok
        self.failed = failed
        self.ran = 0
        self.failed_now = 0
        """Jobs of this run that failed (for ``--max-failures``)."""
        self.busy = 0.0
        self.reused = 0
        self._held = 0
        self._held_failures: list[str] = []
        self._held_busy = 0.0

    @classmethod
    def from_statuses(cls, statuses: list[str | None], retry_failed: bool) -> Tally:
        """Start from the recorded status of each job of the share (None: none recorded).

        Jobs that run again (no record, or a failure with ``retry_failed``) count
        only once this run records them.
        """
        failed = dict.fromkeys(FAILED_STATUSES, 0)
        ok = 0
        for status in statuses:
            if status == "ok":
                ok += 1
            elif status is not None and not retry_failed:
                failed[status] = failed.get(status, 0) + 1
        return cls(len(statuses), ok + sum(failed.values()), ok, failed)

    def reuse(self, count: int) -> None:
        """Count ``count`` jobs whose ok rows were copied from other folders (not run here)."""
        self.ok += count
        self.skipped += count
        self.reused += count

    def add(self, count: int, failures: list[str], busy: float = 0.0) -> None:
        """Hold ``count`` finished jobs, of which ``failures`` (their statuses) failed.

        They count once `written` says their rows reached the results file;
        ``failed_now`` counts the failures at once. ``busy`` is their summed
        durations: the manifest's ``busy_seconds``.
        """
        self._held += count
        self._held_failures += failures
        self._held_busy += busy
        self.failed_now += len(failures)

    def written(self) -> None:
        """Count the jobs held since the last call: their rows reached the results file."""
        failures, self._held_failures = self._held_failures, []
        self.ran += self._held
        self.busy += self._held_busy
        self.ok += self._held - len(failures)
        for status in failures:
            self.failed[status] = self.failed.get(status, 0) + 1
        self._held, self._held_busy = 0, 0.0

    def record(self, count: int, failures: list[str], busy: float = 0.0) -> None:
        """Count finished jobs whose rows are written already: `add`, then `written`."""
        self.add(count, failures, busy)
        self.written()

    def counts(self) -> dict[str, int]:
        """The counts for manifest.json."""
        return {"ok": self.ok, **self.failed, "remaining": self.remaining}

    @property
    def remaining(self) -> int:
        """Jobs of the share with no recorded outcome."""
        return self.share - self.ok - sum(self.failed.values())

    def summary(
        self,
        machine: str,
        folder: Path,
        interrupted: bool,
        seconds: float,
        stopped: str | None = None,
        waiting: str | None = None,
    ) -> RunSummary:
        """The summary at the end of a run; ``stopped`` says why it stopped early on purpose,
        ``waiting`` what to do when later phases wait for ``run --after``."""
        return RunSummary(
            machine, folder, self.share, self.ran, self.skipped, self.ok, dict(self.failed),
            self.remaining, interrupted, seconds, stopped, waiting,
        )  # fmt: skip
