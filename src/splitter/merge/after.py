"""``run --after M``: the next phase of a static split starts from the merge of the last one.

In a static split a host cannot wait at a barrier for the others without a
network, so a barrier is a phase boundary: every host runs its share of a
phase, the phase's folders are merged into M, and M's report.json (its
``next_phase``, see `splitter.merge.plans.phase_fields`) says which phase
the hosts may run now. Each host needs only that report, no shared disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splitter.campaign.load import Campaign
from splitter.errors import ConfigError, UsageError, VerificationError
from splitter.merge.reportfile import read_report_json
from splitter.merge.rescue import check_report_campaign
from splitter.merge.rules import REPORT_NAME

__all__ = ["After", "load_after"]


@dataclass(frozen=True)
class After:
    """What a merged report lets this host run: every phase up to ``phase``."""

    report: Path
    phase: int
    phases: int


def load_after(campaign: Campaign, merged: Path) -> After:
    """The last phase ``merged/report.json`` lets the hosts of ``campaign`` run."""
    path = merged / REPORT_NAME
    try:
        report = read_report_json(path, "merge the phase's folders again")
    except FileNotFoundError:
        raise ConfigError(
            f"{path} does not exist; pass --after the folder `merge --out` wrote from the"
            " last phase's folders"
        ) from None
    check_report_campaign(path, report, campaign, "start the next phase")
    count = campaign.phases.count
    if count == 1:
        raise UsageError(
            f"--after {merged}: this campaign has no barriers, so it has no phases to start;"
            " run without --after"
        )
    plan = campaign.plan.base or campaign.plan  # a rescue's phases are its campaign's
    if report.get("digest") != plan.digest.hex():
        raise VerificationError(
            f"{path} is of another plan of this campaign (its machines or barriers differ),"
            " whose phases are not these; merge the folders of this plan"
        )
    return After(path, _next_phase(path, report, count), count)


def _next_phase(path: Path, report: dict[str, Any], count: int) -> int:
    phase = report.get("next_phase")
    if type(phase) is not int or not 0 <= phase < count:
        raise ConfigError(
            f"{path} names no next phase of this campaign's {count}; merge the phase's"
            " folders again"
        )
    return phase
