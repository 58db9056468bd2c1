"""``--rescue M``: plan only what a merge found missing (or failed) over the survivors.

After a host is lost for good, ``merge --partial`` lists its jobs as missing
in ``M/report.json``, and its ``machines_seen`` the machines whose folders the
merge read: the survivors. They plan just those jobs, in the pool's usual
order, over exactly those machines (their machines.json entries, in its
order) and split them by weight as usual, so every survivor computes the same
rescue digest from the same report with no file to edit; ``--machines a,b``
chooses the machines instead. The report must come from the same campaign:
the same splitter.ini and the same job pool (the job ids it lists are that
pool's).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from splitter.campaign.digest import group_digest
from splitter.campaign.load import Campaign
from splitter.campaign.machines import (
    MACHINES_FILE,
    Machine,
    check_machine_name,
    machine_name_problem,
)
from splitter.campaign.plan import make_rescue_plan
from splitter.errors import ConfigError, UsageError, VerificationError
from splitter.merge.reportfile import read_report_json
from splitter.merge.reportids import rescue_ids
from splitter.merge.rules import REPORT_NAME

__all__ = ["Rescue", "check_report_campaign", "describe", "load_rescue"]


@dataclasses.dataclass(frozen=True)
class Rescue:
    """A campaign narrowed to the rescued jobs, and where they came from."""

    campaign: Campaign
    report: Path
    plan_digest: str
    chosen_by: str

    def folder_name(self, machine: str) -> str:
        """A host's rescue folder: beside its original one, never mixed with it."""
        return f"{machine}.rescue-{self.campaign.plan.digest.hex()[:8]}"


def load_rescue(
    campaign: Campaign,
    merged: Path,
    retry_failed: bool,
    machines: Sequence[str] | None = None,
    force: bool = False,
) -> Rescue:
    """Narrow ``campaign`` to the jobs ``merged/report.json`` lists as missing (and failed).

    The rescue runs over ``machines`` (names from machines.json) when given,
    else over the report's ``machines_seen``; a report written before
    ``machines_seen`` existed leaves every machine of machines.json in. A
    report that saw a host still running is refused unless ``force``: its
    missing jobs may be running there.
    """
    path = merged / REPORT_NAME
    report = _read_report(path)
    check_report_campaign(path, report, campaign, "rescue")
    if not force:
        _check_none_running(path, report)
    ids = rescue_ids(report, path, campaign.plan.total, retry_failed)
    survivors, chosen_by = _survivors(campaign, path, report, machines)
    plan = make_rescue_plan(campaign.plan, survivors, ids)
    narrowed = dataclasses.replace(campaign, machines=survivors, plan=plan)
    return Rescue(narrowed, path, str(report["digest"]), chosen_by)


def check_report_campaign(
    path: Path, report: dict[str, Any], campaign: Campaign, doing: str
) -> None:
    """The report's campaign must be this one: same splitter.ini, same job pool.

    ``doing`` says what the report is read for, in the refusal ("rescue").
    """
    for field, ours, what in (
        ("config_digest", campaign.config_digest, "splitter.ini"),
        ("pool_digest", campaign.pool_digest, "job pool"),
    ):
        if report.get(field) != ours.hex():
            raise VerificationError(
                f"{path} comes from another campaign (its {what} differs from this one's);"
                f" {doing} with the entry script and configs of the merged campaign, or merge"
                " again with this campaign's folders"
            )


def _check_none_running(path: Path, report: dict[str, Any]) -> None:
    """Refuse a report whose merge saw a host running: its missing jobs may be done there yet."""
    folders = report.get("machines", [])
    if not isinstance(folders, list) or not all(isinstance(f, dict) for f in folders):
        raise ConfigError(f"{path} has a 'machines' that is not a list of folders; merge again")
    running = [str(f.get("machine")) for f in folders if f.get("state") == "running"]
    if not running:
        return
    one = len(running) == 1
    raise VerificationError(
        f"{path} says {', '.join(running)} {'was' if one else 'were'} still running when"
        f" merged, so the jobs it lists as missing may be done there yet, and a rescue would"
        f" run them twice; merge again once {'it has' if one else 'they have'} finished or"
        " stopped, or pass --force to rescue anyway"
    )


def _survivors(
    campaign: Campaign, path: Path, report: dict[str, Any], chosen: Sequence[str] | None
) -> tuple[tuple[Machine, ...], str]:
    """The machines the rescue plans over, in machines.json order, and what chose them."""
    source = campaign.configs.path / MACHINES_FILE
    known = {machine.name for machine in campaign.machines}
    if chosen is not None:
        for name in chosen:
            check_machine_name(name, "--machines")
        unknown = [name for name in chosen if name not in known]
        if unknown or not chosen:
            raise UsageError(
                f"--machines names {', '.join(map(repr, unknown)) or 'no machine'}, which"
                f" {source} does not list (known: {', '.join(sorted(known))}); pass names"
                " from it, separated by commas"
            )
        names, chosen_by = set(chosen), "--machines"
    elif "machines_seen" in report:
        seen = report["machines_seen"]
        if not isinstance(seen, list) or not all(isinstance(name, str) for name in seen):
            raise ConfigError(
                f"{path} has a 'machines_seen' that is not a list of names; merge again"
            )
        for name in seen:
            problem = machine_name_problem(name)
            if problem is not None:
                raise ConfigError(
                    f"{path} lists in 'machines_seen' a machine {name!r} that {problem}; merge"
                    " again, or pass --machines with the names of the machines to rescue on"
                )
        names, chosen_by = set(seen) & known, f"the machines whose folders {path} saw"
        if not names:
            raise UsageError(
                f"none of the machines whose folders {path} saw ({', '.join(seen)}) is in"
                f" {source}; pass --machines with the names of the machines to rescue on"
            )
    else:
        names, chosen_by = known, f"every machine of {source}"
    return tuple(m for m in campaign.machines if m.name in names), chosen_by


def _read_report(path: Path) -> dict[str, Any]:
    try:
        report = read_report_json(path, "merge again")
    except FileNotFoundError:
        raise ConfigError(
            f"{path} does not exist; pass --rescue the folder `merge --out` wrote"
        ) from None
    if not isinstance(report.get("missing"), list):
        raise ConfigError(f"{path} is not a merge report (no 'missing' list); merge again")
    digest = report.get("digest")
    if not isinstance(digest, str) or len(digest) != 64 or not _is_hex(digest):
        raise ConfigError(
            f"{path} has no 'digest' of 64 hex digits, so it names no plan; merge again"
        )
    return report


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def describe(rescue: Rescue) -> str:
    """One line for the console: how many jobs, from which report, which digest."""
    plan = rescue.campaign.plan
    names = ", ".join(machine.name for machine in rescue.campaign.machines)
    return (
        f"rescue of {plan.size} jobs listed in {rescue.report} over {names}"
        f" ({rescue.chosen_by}), rescue digest {group_digest(plan.digest)}"
    )
