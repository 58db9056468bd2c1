"""The runner's side of barriers: dispatch a run's jobs phase by phase.

    this run's jobs --by phase--> [phase p jobs] --engine--> rows ... engine finished
        --advance: BARRIER CHECK and a failure before it? stop--> else extend(phase p+1)

No job of a phase starts before every job of the phases before it has come
back, and a ``BARRIER CHECK`` stops the run at itself if any job before it
failed (recorded earlier or in this run). The engine learns each phase's
jobs only once the one before has ended (`Engine.extend`), so it needs no
notion of phases. In a static split a run goes up to ``last`` only (the
phase ``run --after M`` allows); the rest wait for the next ``--after``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from splitter.campaign.phases import Phases
from splitter.run.engine import Engine

__all__ = ["Barriers"]

log = logging.getLogger("splitter.run")


class Barriers:
    """This run's jobs by phase, the failures seen so far, and which phase runs now."""

    def __init__(
        self,
        phases: Phases,
        todo: Sequence[int],
        recorded_failures: Sequence[int],
        last: int | None = None,
    ) -> None:
        """``recorded_failures``: per phase, failed jobs recorded earlier that do not rerun."""
        self.phases = phases
        self.last = phases.count - 1 if last is None else last
        by_phase = phases.jobs_by_phase(todo)
        self.waiting = sum(len(jobs) for jobs in by_phase[self.last + 1 :])
        self._ahead = by_phase[: self.last + 1]
        self._failed = list(recorded_failures)
        self.phase = 0
        self.reason: str | None = None
        """Why the run stopped at a barrier (a BARRIER CHECK after a failure), else None."""

    def without(self, done: set[int]) -> Barriers:
        """These barriers, less the jobs of ``done`` (rows copied by ``--reuse``)."""
        self._ahead = [[job for job in jobs if job not in done] for jobs in self._ahead]
        return self

    def first(self) -> list[int]:
        """The jobs to start the engine with: those of the first phase that has any."""
        return self._take()

    def failed(self, job_id: int) -> None:
        """Count a failed job of this run."""
        self._failed[int(self.phases.of_job[job_id])] += 1

    def advance(self, engine: Engine) -> bool:
        """The engine has run its jobs: hand it the next phase's; False when there is none."""
        if self.reason is not None or self.phase >= len(self._ahead):
            return False
        jobs = self._take()
        if not jobs:
            return False
        engine.extend(jobs)
        return True

    def _take(self) -> list[int]:
        """The next phase's jobs (phases without any passed over), or [] at a holding CHECK."""
        while self.phase < len(self._ahead):
            phase = self.phase
            if phase and self.phases.checked(phase) and sum(self._failed[:phase]):
                self._stop_at(phase)
                return []
            self.phase += 1
            if self._ahead[phase]:
                return self._ahead[phase]
        return []

    def _stop_at(self, phase: int) -> None:
        barrier = self.phases.barriers[phase - 1]
        failed = sum(self._failed[:phase])
        self.reason = (
            f"the BARRIER CHECK of line {barrier.line} holds: {failed} jobs before it failed;"
            " fix them, then run again with --retry-failed to go on"
        )
        log.warning("stopping: %s", self.reason)
