"""The plan as people and programs read it: a table, or JSON."""

from __future__ import annotations

from splitter.campaign.digest import full_hex, group_digest
from splitter.campaign.load import Campaign
from splitter.campaign.machines import MACHINES_FILE

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


def plan_json(campaign: Campaign) -> dict[str, object]:
    """Digest, total and every machine's weight, share and index range."""
    plan = campaign.plan
    return {
        "digest": full_hex(plan.digest),
        "digest_grouped": group_digest(plan.digest),
        "campaign_seed": campaign.campaign_seed.hex(),
        "pool_digest": campaign.pool_digest.hex(),
        "config_digest": campaign.config_digest.hex(),
        "total": plan.total,
        "planned": plan.size,
        "rescue": plan.rescued is not None,
        "configs": {"path": str(campaign.configs.path), "origin": campaign.configs.origin},
        "machines": [
            {
                "name": share.machine.name,
                "perf": share.machine.perf,
                "cores": share.machine.cores,
                "weight": share.machine.weight,
                "share": share.size,
                "start": share.start,
                "stop": share.stop,
            }
            for share in plan.shares
        ],
    }


def plan_table(campaign: Campaign, rescue_over: str | None = None) -> str:
    """The plan as a table, with the digest grouped for reading aloud.

    ``rescue_over`` says, for a rescue, what chose its machines.
    """
    plan = campaign.plan
    total_weight = sum(share.machine.weight for share in plan.shares)
    rows = [("machine", "perf", "cores", "weight", "share", "%", "positions")]
    for share in plan.shares:
        machine = share.machine
        rows.append((
            machine.name, f"{machine.perf:g}", str(machine.cores), f"{machine.weight:g}",
            str(share.size), f"{100 * machine.weight / total_weight:.1f}",
            f"{share.start}..{share.stop - 1}" if share.size else "-",
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        f"digest  {group_digest(plan.digest)}   (full: {full_hex(plan.digest)})",
        f"jobs    {plan.size}" + ("" if plan.rescued is None else f" (a rescue, of {plan.total})"),
        f"configs {campaign.configs.path} ({campaign.configs.origin})",
    ]
    if rescue_over is not None:
        names = ", ".join(machine.name for machine in campaign.machines)
        lines.append(f"rescue  over {names} ({rescue_over})")
    lines += [
        "",
    ]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=False)
        ]
        lines.append("  ".join(cells).rstrip())
    lines.append("")
    lines.append("positions: each machine's slice of the pool in plan order (see `plan --json`)")
    return "\n".join(lines)
