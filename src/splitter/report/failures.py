"""Failed rows grouped the way a person reads them: by exception type, and by message pattern.

    error cell "KeyError: 'chunk 17'" --kind--> KeyError
                                      --pattern (numbers masked)--> "KeyError: 'chunk N'"

Two messages that differ only in their numbers (a job id, a chunk, an
address) are one group, shown with its first message as the example. An
error cell without a leading `Name:` (a worker that died, a timeout) takes
its row's status as its kind. Pure: `Failures.add` is fed row by row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from splitter.store.rowformat import failure_pattern

__all__ = [
    "OTHER_MESSAGES",
    "FailureGroup",
    "FailureKind",
    "FailureLine",
    "Failures",
    "failure_kind",
    "failure_kinds",
    "failure_lines",
    "failure_pattern",
]

OTHER_MESSAGES = "(other messages)"
_MAX_GROUPS = 10_000  # distinct patterns kept; the rest are counted together
_FIRST_IDS = 5
_CACHE = 4096  # raw messages remembered with their pattern: a long run repeats a few
_KIND = re.compile(r"([A-Za-z_][\w.]*)(?::|$)")


def failure_kind(message: str, status: str) -> str:
    """The exception type that starts `message` ("KeyError"), else the row's status."""
    found = _KIND.match(message)
    return found.group(1) if found else status


@dataclass
class FailureGroup:
    """The failed rows of one message pattern."""

    kind: str
    example: str
    count: int = 0
    statuses: set[str] = field(default_factory=set)
    first_ids: list[int] = field(default_factory=list)


@dataclass
class Failures:
    """Failed rows by message pattern, at most `_MAX_GROUPS` patterns (then one "other")."""

    groups: dict[str, FailureGroup] = field(default_factory=dict)
    _patterns: dict[str, str] = field(default_factory=dict)

    def add(self, message: str, status: str, job_id: int) -> bool:
        """Count one failed row; True when `job_id` is kept as one of its group's first ids.

        Rows come in job_id order, so the first ids kept are the lowest.
        """
        pattern = self._patterns.get(message)
        if pattern is None:
            pattern = failure_pattern(message)
            if len(self._patterns) < _CACHE:
                self._patterns[message] = pattern
        group = self.groups.get(pattern)
        if group is None:
            if len(self.groups) >= _MAX_GROUPS:
                pattern = OTHER_MESSAGES
                group = self.groups.setdefault(pattern, FailureGroup(pattern, pattern))
            else:
                group = self.groups[pattern] = FailureGroup(failure_kind(message, status), message)
        group.count += 1
        group.statuses.add(status)
        if len(group.first_ids) < _FIRST_IDS:
            group.first_ids.append(job_id)
            return True
        return False


@dataclass(frozen=True)
class FailureLine:
    """One message pattern of the failures table."""

    pattern: str
    example: str
    kind: str
    count: int
    statuses: tuple[str, ...]
    first_ids: tuple[int, ...]


@dataclass(frozen=True)
class FailureKind:
    """One exception type (or status) of the failures, over all its patterns."""

    kind: str
    count: int
    patterns: int


def failure_lines(failures: Failures, limit: int = 10) -> list[FailureLine]:
    """The most common patterns, most frequent first (ties: the lowest first id)."""
    ranked = sorted(failures.groups.items(), key=lambda item: (-item[1].count, item[1].first_ids))
    return [
        FailureLine(
            pattern or "(no message)",
            group.example or "(no message)",
            group.kind,
            group.count,
            tuple(sorted(group.statuses)),
            tuple(group.first_ids),
        )
        for pattern, group in ranked[:limit]
    ]


def failure_kinds(failures: Failures) -> list[FailureKind]:
    """The failed rows by exception type, most frequent first (ties: by name)."""
    counts: dict[str, list[int]] = {}
    for group in failures.groups.values():
        tally = counts.setdefault(group.kind, [0, 0])
        tally[0] += group.count
        tally[1] += 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1][0], item[0]))
    return [FailureKind(kind, total, patterns) for kind, (total, patterns) in ranked]
