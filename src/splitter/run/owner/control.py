"""The owner's hand on a running share: requests and policy, applied to the engine.

    control.json (pause, continue, workers) --stat each quarter second--\\
                                                                         +--> poll(engine)
    [owner] rules + readings (each check_interval) --policy.decide------/       |
        engine.pause(in_place) / resume() / set_workers(n) <---------------------+
        log lines, manifest fields "owner" and "paused_intervals" <-------------+

The runner calls `poll` once per step. A pause by hand beats the policy: it
holds until `continue`, whatever the rules say; the policy pauses and
continues by itself. Each stretch of pause is one interval ``[start, end,
reason]`` (Unix seconds; end None while paused): a new reason closes the
interval and opens the next. A resumed run carries its folder's earlier
intervals, closing one a killed run left open at that run's last manifest.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splitter.campaign.owner import OwnerSettings
from splitter.errors import SplitterError
from splitter.run.display import format_seconds
from splitter.run.engine import Engine
from splitter.run.owner.policy import PolicyState, Readings, decide
from splitter.run.owner.readings import MachineReader
from splitter.store.control import control_signature, read_control
from splitter.store.manifest import read_manifest

__all__ = ["BY_HAND", "CONTROL_POLL_SECONDS", "OwnerControl", "Pause", "earlier_intervals"]

CONTROL_POLL_SECONDS = 0.25
BY_HAND = "by hand"

log = logging.getLogger("splitter.owner")

Interval = list[Any]
"""[start, end, reason]: Unix seconds, end None while paused."""


@dataclass(frozen=True)
class Pause:
    """The run is paused: since when (Unix seconds), why, and whether jobs are stopped in place."""

    since: float
    reason: str
    in_place: bool

    def note(self) -> str:
        """``paused since 14:03 (by hand)``, in local time."""
        return f"paused since {time.strftime('%H:%M', time.localtime(self.since))} ({self.reason})"


def earlier_intervals(folder: Path) -> list[Interval]:
    """The paused intervals an earlier run of ``folder`` recorded, each closed."""
    with contextlib.suppress(SplitterError, OSError):
        data = read_manifest(folder)
        found, updated = data.get("paused_intervals"), data.get("updated")
        if isinstance(found, list):
            return [_closed(item, updated) for item in found if _interval(item)]
    return []


def _interval(item: object) -> bool:
    if not (isinstance(item, list) and len(item) == 3 and isinstance(item[2], str)):
        return False
    return all(value is None or type(value) in (int, float) for value in item[:2])


def _closed(item: list[Any], updated: object) -> Interval:
    if item[1] is None:
        return [item[0], updated if type(updated) in (int, float) else item[0], item[2]]
    return list(item)


class OwnerControl:
    """Turns the owner's requests and rules into pauses, continues and worker counts."""

    def __init__(
        self,
        folder: Path,
        rules: OwnerSettings,
        workers: int,
        earlier: list[Interval] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        reader: MachineReader | None = None,
    ) -> None:
        self.run = secrets.token_hex(8)
        """Names this run in control.json, so an earlier run's request is not taken."""
        self._folder, self._rules, self._workers = folder, rules, workers
        self._clock, self._wall = clock, wall
        self._reader = reader or (MachineReader(rules, os.getpid()) if rules.any_rule else None)
        self._intervals: list[Interval] = list(earlier or [])
        self._manual: str | None = None
        self._policy = PolicyState()
        self._readings: Readings | None = None
        self.paused: Pause | None = None
        self._abilities: dict[str, object] | None = None
        self._signature: object = None
        self._next_request = self._next_reading = 0.0

    def poll(self, engine: Engine) -> bool:
        """Apply new requests and the policy to ``engine``; True when the manifest must say so."""
        changed = self._abilities is None
        if self._abilities is None:
            self._begin(engine)
        now = self._clock()
        if now >= self._next_request:
            self._next_request = now + CONTROL_POLL_SECONDS
            changed |= self._take_request(engine)
        if self._reader is not None and now >= self._next_reading:
            self._next_reading = now + self._rules.check_interval
            self._readings = self._reader.read(now, self._wall(), len(engine.running()))
            self._policy = decide(self._rules, self._readings, self._policy)
        return self._apply(engine) or changed

    def fields(self, ended: bool = False) -> dict[str, object]:
        """The manifest's ``owner`` and ``paused_intervals``; ``ended``: the run is over."""
        if ended and self.paused is not None:
            self._intervals[-1][1] = round(self._wall(), 3)
            self.paused = None
        paused = None
        if self.paused is not None:
            paused = {
                "since": self.paused.since, "reason": self.paused.reason,
                "by_hand": self._manual is not None, "in_place": self.paused.in_place,
            }  # fmt: skip
        owner = {"run": self.run, "workers": self._workers, "paused": paused}
        return {"owner": {**owner, **(self._abilities or {})}, "paused_intervals": self._intervals}

    def _begin(self, engine: Engine) -> None:
        self._abilities = {
            "stops_in_place": engine.stops_in_place, "most_workers": engine.most_workers,
        }  # fmt: skip
        for what in self._reader.unreadable if self._reader is not None else []:
            log.warning("[owner] cannot read %s on this host; that rule is ignored", what)
        stop = self._rules.any_rule and self._rules.running_jobs == "stop"
        if stop and not engine.stops_in_place:
            log.warning("[owner] this engine cannot stop jobs in place: a pause lets them finish")

    def _take_request(self, engine: Engine) -> bool:
        signature = control_signature(self._folder)
        if signature == self._signature:
            return False
        self._signature = signature
        try:
            request = read_control(self._folder)
        except SplitterError as error:
            log.warning("%s", error)
            return False
        if request is None or request.run != self.run:
            return False
        self._manual = request.pause
        wanted = request.workers
        if wanted is None or wanted == self._workers or engine.most_workers is None:
            return False
        wanted = max(1, min(wanted, engine.most_workers))
        log.info("by hand: at most %s at once from now (was %d)", _jobs(wanted), self._workers)
        engine.set_workers(wanted)
        self._workers = wanted
        return True

    def _apply(self, engine: Engine) -> bool:
        reason, mode = (BY_HAND, self._manual) if self._manual else (self._policy.reason, None)
        in_place = (mode or self._rules.running_jobs) == "stop" and engine.stops_in_place
        before = self.paused
        if reason is None and before is None:
            return False
        if before is not None and (before.reason, before.in_place) == (reason, in_place):
            return False
        now = round(self._wall(), 3)
        running = len(engine.running())
        if reason is None:
            engine.resume()
            self._end_interval(now)
            self.paused = None
            assert before is not None
            paused_for = format_seconds(now - before.since)
            log.info("continuing after %s paused (%s)", paused_for, before.reason)
            return True
        if before is None or before.in_place != in_place:
            engine.pause(in_place)
        if before is None or before.reason != reason:
            self._end_interval(now)
            self._intervals.append([now, None, reason])
        self.paused = Pause(self._intervals[-1][0], reason, in_place)
        if not running:
            what = "no job was running, and none starts"
        elif in_place:
            what = f"{_running(running)} stopped in place"
        else:
            what = f"{_running(running)} finish; no new one starts"
        log.info("%s%s: %s", self.paused.note(), self._detail(), what)
        return True

    def _end_interval(self, now: float) -> None:
        if self._intervals and self._intervals[-1][1] is None:
            self._intervals[-1][1] = now

    def _detail(self) -> str:
        readings, reason = self._readings, self.paused.reason if self.paused else ""
        if readings is None or self._manual:
            return ""
        if reason.startswith("load") and readings.load is not None:
            return f"; others keep {readings.load:.2f} cores busy"
        if reason.startswith("keyboard") and readings.idle is not None:
            return f"; last used {format_seconds(readings.idle)} ago"
        return ""


def _jobs(count: int) -> str:
    return f"{count} job" if count == 1 else f"{count} jobs"


def _running(count: int) -> str:
    return "1 running job" if count == 1 else f"{count} running jobs"
