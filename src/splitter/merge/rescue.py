"""``--rescue M``: plan only what a merge found missing (or failed) over the survivors.

After a host is lost for good, ``merge --partial`` lists its jobs as missing
in ``M/report.json``. The surviving hosts, with the lost one removed from
machines.json, plan just those jobs in the pool's usual order and split them
by weight as usual. The report must come from the same campaign: the same
run seed, that is the same job pool and config.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from splitter.campaign.digest import group_digest
from splitter.campaign.load import Campaign
from splitter.campaign.plan import make_rescue_plan
from splitter.errors import ConfigError, VerificationError
from splitter.merge.reportids import rescue_ids
from splitter.merge.rules import REPORT_NAME

__all__ = ["Rescue", "describe", "load_rescue"]


@dataclasses.dataclass(frozen=True)
class Rescue:
    """A campaign narrowed to the rescued jobs, and where they came from."""

    campaign: Campaign
    report: Path
    plan_digest: str

    def folder_name(self, machine: str) -> str:
        """A host's rescue folder: beside its original one, never mixed with it."""
        return f"{machine}.rescue-{self.campaign.plan.digest.hex()[:8]}"


def load_rescue(campaign: Campaign, merged: Path, retry_failed: bool) -> Rescue:
    """Narrow ``campaign`` to the jobs ``merged/report.json`` lists as missing (and failed)."""
    path = merged / REPORT_NAME
    report = _read_report(path)
    if report.get("run_seed") != campaign.run_seed.hex():
        raise VerificationError(
            f"{path} comes from another campaign (its job pool or config differ from this "
            "one's); rescue with the entry script and configs the campaign was run with"
        )
    ids = rescue_ids(report, path, campaign.plan.total, retry_failed)
    plan = make_rescue_plan(campaign.run_seed, campaign.machines, campaign.plan.total, ids)
    return Rescue(dataclasses.replace(campaign, plan=plan), path, str(report["digest"]))


def _read_report(path: Path) -> dict[str, Any]:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path} does not exist; pass --rescue the folder `merge --out` wrote"
        ) from None
    except RecursionError:
        raise ConfigError(
            f"{path} is not a merge report (nested too deeply); merge again"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not a merge report ({exc}); merge again") from None
    if not isinstance(report, dict) or not isinstance(report.get("missing"), list):
        raise ConfigError(f"{path} is not a merge report (no 'missing' list); merge again")
    return report


def describe(rescue: Rescue) -> str:
    """One line for the console: how many jobs, from which report, which digest."""
    plan = rescue.campaign.plan
    return (
        f"rescue of {plan.size} jobs listed in {rescue.report}, "
        f"rescue digest {group_digest(plan.digest)}"
    )
