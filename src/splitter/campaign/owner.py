"""The ``[owner]`` section of splitter.ini: when this workstation's owner wants it back.

Each desk may have its own policy, so ``[owner]`` is left out of the config
digest (see ``config.config_content``): it decides when jobs run here, never
what they compute. The converters below check its options; ``config`` reads
them beside the runner's other sections, and ``splitter.run.owner.policy``
decides from them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from splitter.campaign.hours import Hours, parse_hours

__all__ = [
    "OWNER_SECTION",
    "RUNNING_JOBS",
    "OwnerSettings",
    "hours_or_none",
    "optional_amount",
    "running_jobs",
]

OWNER_SECTION = "owner"
RUNNING_JOBS = ("stop", "finish")


@dataclass(frozen=True)
class OwnerSettings:
    """The owner's rules: pause while others load the machine, while it is used, out of hours."""

    max_load: float | None = None
    """Pause while other processes keep more than this many cores busy."""
    idle_minutes: float | None = None
    """Pause while the keyboard or mouse was used in the last this many minutes."""
    hours: Hours | None = None
    """Run only inside these windows."""
    grace: float = 60.0
    """Seconds every rule must stay clear before a paused run continues."""
    running_jobs: str = "stop"
    """What a rule's pause does to running jobs: stop them in place, or let them finish."""
    check_interval: float = 5.0
    """Seconds between readings of the load, the keyboard and the clock."""

    @property
    def any_rule(self) -> bool:
        """Whether any rule is set (else nothing is ever read)."""
        return self.max_load is not None or self.idle_minutes is not None or bool(self.hours)


def optional_amount(convert: Callable[[str], float]) -> Callable[[str], float | None]:
    """``convert``, or None for an empty value (the rule is off)."""

    def amount(raw: str) -> float | None:
        if not raw.strip():
            return None
        try:
            return convert(raw)
        except ValueError as forms:
            raise ValueError(f"{forms}, or empty for no such rule") from None

    return amount


def hours_or_none(raw: str) -> Hours | None:
    """The windows of ``hours``, or None when it is empty (any time)."""
    return parse_hours(raw) if raw.strip() else None


def running_jobs(raw: str) -> str:
    """``stop`` or ``finish``."""
    if raw.lower() not in RUNNING_JOBS:
        raise ValueError("stop (in place, memory kept) or finish (start no new job)")
    return raw.lower()
