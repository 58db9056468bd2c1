"""What changed hands between two plans of a campaign: ``plan --since DIR``.

Pure: two plans as their job keys and each job's owner in, per machine the
jobs it keeps, gains and loses out. Jobs are matched by key, so a job is the
same job in both plans wherever it sits in either pool; machines are matched
by name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from splitter.campaign.identity import JobKeys

__all__ = ["MachineMoves", "Moves", "PlanShape", "plan_moves"]


@dataclass(frozen=True)
class PlanShape:
    """A plan as far as moves go: its digest, its machines, and per job its key and owner."""

    digest: str
    machines: tuple[str, ...]
    keys: npt.NDArray[np.uint64]
    owners: npt.NDArray[np.uint16]


@dataclass(frozen=True)
class MachineMoves:
    """One machine's jobs now against before: kept, gained (new or moved here) and lost."""

    machine: str
    before: int
    now: int
    keeps: int
    gains: int
    loses: int


@dataclass(frozen=True)
class Moves:
    """Every machine's moves, and the jobs new to the pool, gone from it, or moved."""

    since: str
    machines: tuple[MachineMoves, ...]
    new: int
    removed: int
    moved: int

    def as_json(self) -> dict[str, object]:
        """The moves as ``plan --json`` shows them under ``since``."""
        return {
            "plan_digest": self.since, "new": self.new, "removed": self.removed,
            "moved": self.moved, "machines": [vars(machine) for machine in self.machines],
        }  # fmt: skip

    def table(self) -> str:
        """The moves as a table, with a line of totals."""
        rows: list[tuple[str, ...]] = [("machine", "before", "now", "keeps", "gains", "loses")]
        for m in self.machines:
            rows.append((m.machine, *map(str, (m.before, m.now, m.keeps, m.gains, m.loses))))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [f"since plan {self.since[:16]}: {self.new} new jobs, {self.removed} removed,"
                 f" {self.moved} moved between machines"]  # fmt: skip
        for row in rows:
            numbers = zip(row[1:], widths[1:], strict=True)
            cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in numbers]
            lines.append("  ".join(cells).rstrip())
        return "\n".join(lines)


def plan_moves(before: PlanShape, now: PlanShape) -> Moves:
    """Per machine, the jobs it keeps, gains and loses from ``before`` to ``now``."""
    found = JobKeys(before.keys).find(now.keys)
    known = found >= 0
    # Each earlier owner as an index of now's machines (-1: a machine no longer planned).
    position = {name: index for index, name in enumerate(now.machines)}
    remap = np.array([position.get(name, -1) for name in before.machines], dtype=np.int64)
    owner_before = np.full(len(found), -2, dtype=np.int64)
    if len(before.machines):
        owner_before[known] = remap[before.owners[found[known]]]
    kept = known & (owner_before == now.owners.astype(np.int64))
    names = list(dict.fromkeys((*now.machines, *before.machines)))
    machines = []
    for name in names:
        index = position.get(name)
        had = (
            int(np.count_nonzero(before.owners == before.machines.index(name)))
            if (name in before.machines)
            else 0
        )
        mine = now.owners == index if index is not None else np.zeros(len(found), dtype=bool)
        keeps = int(np.count_nonzero(kept & mine))
        has = int(np.count_nonzero(mine))
        machines.append(MachineMoves(name, had, has, keeps, has - keeps, had - keeps))
    matched = int(np.count_nonzero(known))
    return Moves(
        since=before.digest, machines=tuple(machines), new=len(found) - matched,
        removed=len(before.owners) - matched, moved=matched - int(np.count_nonzero(kept)),
    )  # fmt: skip
