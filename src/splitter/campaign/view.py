"""The plan as people and programs read it: a table, or JSON.

A campaign whose jobs all need one core shows one range of the plan order
per machine; one with needs shows its kinds of job and, per machine, how
many jobs of each kind it runs (`plan --json`: each kind's slice).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from splitter.campaign.digest import full_hex, group_digest
from splitter.campaign.load import Campaign
from splitter.campaign.machines import MACHINES_FILE, Machine
from splitter.campaign.needs import Needs
from splitter.campaign.plan import Plan, Share

__all__ = ["SCALE_RATIO", "perf_scale_warning", "plan_json", "plan_table"]

SCALE_RATIO = 10.0
"""Perfs further apart than this are likely measured on different scales (jobs/s vs a guess)."""


def perf_scale_warning(campaign: Campaign) -> str | None:
    """A warning when the machines' perfs differ by more than SCALE_RATIO; else None.

    One host calibrated (perf in jobs/s of the sample) and the others guessed
    (perf 1.0) gives the calibrated one nearly every job: the split is only as
    right as the perfs are comparable.
    """
    machines = sorted(campaign.machines, key=lambda machine: machine.perf)
    low, high = machines[0], machines[-1]
    if low.perf <= 0 or high.perf / low.perf <= SCALE_RATIO:
        return None
    return (
        f"perfs of {campaign.configs.path / MACHINES_FILE} are on different scales ({high.name}"
        f" {high.perf:g} is {high.perf / low.perf:.0f}x {low.name} {low.perf:g}); calibrate"
        " every machine (`calibrate --update` on each), or give them perfs of one scale"
    )


FOOTER = "positions: each machine's slice of the pool in plan order (see `plan --json`)"
PHASED_FOOTER = (
    "positions: each machine's jobs over all phases, counted as one slice (see `plan --json`)"
)
KINDS_FOOTER = (
    "kind N: how many jobs of that kind the machine runs, a slice of that kind's jobs "
    "in plan order (see `plan --json`)"
)


def plan_json(campaign: Campaign) -> dict[str, object]:
    """Digest, total and every machine's weight, share and index range (per kind, with needs)."""
    plan = campaign.plan
    shown: dict[str, object] = {
        "digest": full_hex(plan.digest),
        "digest_grouped": group_digest(plan.digest),
        "campaign_seed": campaign.campaign_seed.hex(),
        "pool_digest": campaign.pool_digest.hex(),
        "config_digest": campaign.config_digest.hex(),
        "total": plan.total,
        "planned": plan.size,
        "rescue": plan.rescued is not None,
        "configs": {"path": str(campaign.configs.path), "origin": campaign.configs.origin},
        "machines": [_machine_json(share, plan) for share in plan.shares],
    }
    if not plan.kinds.plain:
        counts = _kind_counts(plan)
        shown["kinds"] = [
            {"kind": index + 1, "needs": needs.describe(), **_needs_json(needs), "jobs": count}
            for index, (needs, count) in enumerate(zip(plan.kinds.needs, counts, strict=True))
        ]
    if plan.phases is not None:
        shown["phases"] = _phases_json(plan)
    return shown


def _phase_counts(plan: Plan) -> list[list[int]]:
    """How many jobs of each phase each machine runs: [machine][phase]."""
    assert plan.phases is not None and plan.owner is not None
    planned = plan.owner >= 0
    owner, phase = plan.owner[planned], plan.phases.of_job[planned]
    count = plan.phases.count
    return [
        np.bincount(phase[owner == index], minlength=count).tolist()
        for index in range(len(plan.shares))
    ]


def _phases_json(plan: Plan) -> list[dict[str, object]]:
    assert plan.phases is not None
    counts = _phase_counts(plan)
    barriers = plan.phases.barriers
    return [
        {
            "phase": phase + 1,
            "after_barrier_line": barriers[phase - 1].line if phase else None,
            "check": plan.phases.checked(phase),
            "machines": {
                share.machine.name: counts[index][phase] for index, share in enumerate(plan.shares)
            },
        }
        for phase in range(plan.phases.count)
    ]


def _phase_lines(plan: Plan) -> list[str]:
    """The phases a task file's barriers make, and each machine's jobs in each."""
    assert plan.phases is not None
    counts = _phase_counts(plan)
    barriers = ", ".join(
        f"line {barrier.line}{' CHECK' if barrier.check else ''}"
        for barrier in plan.phases.barriers
    )
    phases = range(plan.phases.count)
    rows = [("machine", *(f"phase {phase + 1}" for phase in phases))]
    rows += [
        (share.machine.name, *map(str, counts[index])) for index, share in enumerate(plan.shares)
    ]
    return [
        "",
        f"phases  {plan.phases.count}, split one by one (barriers: {barriers}); in a static"
        " split each host runs its share of a phase, then `run --after M` (README, Barriers)",
        "",
        *_aligned(rows, 1),
    ]


def _machine_json(share: Share, plan: Plan) -> dict[str, object]:
    machine = share.machine
    entry: dict[str, object] = {
        "name": machine.name, "perf": machine.perf, "cores": machine.cores,
        "weight": machine.weight, "share": share.size,
    }  # fmt: skip
    if plan.kinds.plain:
        ((start, stop),) = share.slices
        return {**entry, "start": start, "stop": stop}
    if not machine.cores_only:
        entry["holds"] = {**machine.capacity(), "tags": list(machine.tags)}
    entry["kinds"] = [
        {"kind": index + 1, "share": stop - start, "start": start, "stop": stop}
        for index, (start, stop) in enumerate(share.slices)
    ]
    return entry


def _needs_json(needs: Needs) -> dict[str, object]:
    return {
        "cores": needs.cores, "gpus": needs.gpus, "mem": needs.mem, "tags": list(needs.tags),
        "resources": dict(needs.resources),
    }  # fmt: skip


def _kind_counts(plan: Plan) -> list[int]:
    return [
        sum(share.slices[kind][1] - share.slices[kind][0] for share in plan.shares)
        for kind in range(len(plan.kinds.needs))
    ]


def plan_table(campaign: Campaign, rescue_over: str | None = None) -> str:
    """The plan as a table, with the digest grouped for reading aloud.

    ``rescue_over`` says, for a rescue, what chose its machines.
    """
    plan = campaign.plan
    lines = [
        f"digest  {group_digest(plan.digest)}   (full: {full_hex(plan.digest)})",
        f"jobs    {plan.size}" + ("" if plan.rescued is None else f" (a rescue, of {plan.total})"),
        f"configs {campaign.configs.path} ({campaign.configs.origin})",
    ]
    if rescue_over is not None:
        names = ", ".join(machine.name for machine in campaign.machines)
        lines.append(f"rescue  over {names} ({rescue_over})")
    lines.append("")
    phases = _phase_lines(plan) if plan.phases is not None else []
    if plan.kinds.plain:
        lines += _aligned(_plain_rows(plan), 1)
        footer = FOOTER if plan.phases is None else PHASED_FOOTER
        return "\n".join([*lines, *phases, "", footer])
    counts = _kind_counts(plan)
    kinds = [("kind", "jobs", "needs")] + [
        (str(index + 1), str(count), needs.describe())
        for index, (needs, count) in enumerate(zip(plan.kinds.needs, counts, strict=True))
    ]
    lines += _aligned(kinds, 1)
    lines.append("")
    lines += _aligned(_kind_rows(plan), 1)
    return "\n".join([*lines, *phases, "", KINDS_FOOTER])


def _plain_rows(plan: Plan) -> list[tuple[str, ...]]:
    total_weight = sum(share.machine.weight for share in plan.shares)
    header = ("machine", "perf", "cores", "weight", "share", "%", "positions")
    rows: list[tuple[str, ...]] = [header]
    for share in plan.shares:
        machine = share.machine
        ((start, stop),) = share.slices
        rows.append((
            *_machine_cells(machine), str(share.size),
            f"{100 * machine.weight / total_weight:.1f}",
            f"{start}..{stop - 1}" if share.size else "-",
        ))  # fmt: skip
    return rows


def _kind_rows(plan: Plan) -> list[tuple[str, ...]]:
    kinds = [f"kind {index + 1}" for index in range(len(plan.kinds.needs))]
    header = ("machine", "perf", "cores", "weight", "share", *kinds, "holds")
    rows: list[tuple[str, ...]] = [header]
    for share in plan.shares:
        machine = share.machine
        sizes = [str(stop - start) if stop > start else "-" for start, stop in share.slices]
        extra = machine.describe(
            ["gpus", "mem", *dict(machine.resources)], tags=bool(machine.tags)
        )
        holds = " ".join(word for word in extra.split() if not word.endswith("=0"))
        rows.append((*_machine_cells(machine), str(share.size), *sizes, holds))
    return rows


def _machine_cells(machine: Machine) -> tuple[str, str, str, str]:
    return machine.name, f"{machine.perf:g}", str(machine.cores), f"{machine.weight:g}"


def _aligned(rows: Sequence[tuple[str, ...]], left: int) -> list[str]:
    """Rows as lines: the first ``left`` columns, and a last holds or needs, to the left."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    last_left = rows[0][-1] in ("holds", "needs")
    lines = []
    for row in rows:
        cells = [
            cell.ljust(width)
            if i < left or (last_left and i == len(row) - 1)
            else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines
