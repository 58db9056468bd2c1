"""The owner's policy: from readings of the machine, whether the run pauses or goes on.

Pure: `decide` takes the ``[owner]`` rules, one set of readings (the load
of other processes, seconds since the keyboard or mouse was used, the local
time, a monotonic clock) and the state it returned last time, and returns
the next state. The readings come from `splitter.run.owner.readings`.

A rule that holds pauses the run at once; the run continues only once no
rule has held for ``grace`` seconds, so a load that hovers at the threshold
or a hand that rests on the mouse now and then does not flap it. A reading
that is None (not readable here) never holds its rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from splitter.campaign.owner import OwnerSettings

__all__ = ["PolicyState", "Readings", "decide", "holding_rule"]


@dataclass(frozen=True)
class Readings:
    """One look at the machine."""

    clock: float
    """Monotonic seconds: only differences count."""
    weekday: int
    """Local day of the week, 0 = Monday."""
    minute: int
    """Local minute of the day, 0..1439."""
    load: float | None = None
    """Cores kept busy by other processes than this run's; None: cannot be read here."""
    idle: float | None = None
    """Seconds since the keyboard or mouse was last used; None: cannot be read here."""


@dataclass(frozen=True)
class PolicyState:
    """Why the policy pauses the run (None: it does not), and since when every rule is clear."""

    reason: str | None = None
    clear_since: float | None = None


def holding_rule(rules: OwnerSettings, readings: Readings) -> str | None:
    """The first rule that holds now, in words; None when the run may go on."""
    if rules.hours is not None and not rules.hours.holds(readings.weekday, readings.minute):
        return f"outside hours {rules.hours.text}"
    load, idle = readings.load, readings.idle
    if rules.max_load is not None and load is not None and load > rules.max_load:
        return f"load of other processes above {rules.max_load:g}"
    if rules.idle_minutes is not None and idle is not None and idle < rules.idle_minutes * 60:
        return f"keyboard or mouse used in the last {rules.idle_minutes:g} min"
    return None


def decide(rules: OwnerSettings, readings: Readings, state: PolicyState) -> PolicyState:
    """The next state: paused while a rule holds, going on after ``grace`` clear seconds."""
    reason = holding_rule(rules, readings)
    if reason is not None:
        return PolicyState(reason)
    if state.reason is None:
        return state
    since = readings.clock if state.clear_since is None else state.clear_since
    if readings.clock - since >= rules.grace:
        return PolicyState()
    return PolicyState(state.reason, since)
