"""Which plan a merge is against, and how each folder's rows find their jobs in it.

    manifests x N --check_one_campaign--> one splitter.ini (same seeds), consistent plans
    plan digests --newest_plan (or --plan DIR)--> the merged plan: its plan.zst record
    the record's job keys --find--> a row's job id in the merged plan, by its key

Folders of different plans of one campaign (another pool or machines.json,
the same splitter.ini) merge together: the newest plan, the one whose first
run began last, defines the campaign, and rows are resolved by job key
against it. Folders of another splitter.ini are refused: their jobs' seeds
differ, so their results are of another campaign.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from splitter.campaign.digest import group_digest
from splitter.campaign.identity import JobKeys
from splitter.campaign.phases import PhaseCount, next_phase
from splitter.errors import ConfigError, VerificationError
from splitter.merge.rules import ABSENT
from splitter.store.hostfolder import HostFolder, check_plan_total
from splitter.store.manifest import MANIFEST_NAME
from splitter.store.planfile import PLAN_FILE, PlanRecord, read_plan_file

__all__ = [
    "MergedPlan",
    "PlanSeen",
    "check_one_campaign",
    "merged_plan",
    "phase_fields",
    "phase_line",
]


@dataclass(frozen=True)
class PlanSeen:
    """One plan among a merge's inputs: its digest, its first run, and its folders."""

    digest: str
    first_run: str
    folders: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        """Its entry in report.json's ``plans``."""
        return {
            "plan_digest": self.digest,
            "first_run": self.first_run,
            "folders": list(self.folders),
        }


@dataclass(frozen=True)
class MergedPlan:
    """The plan a merge is against, where it was read, and the plans of its inputs."""

    record: PlanRecord
    source: Path
    keys: JobKeys
    plans: tuple[PlanSeen, ...]
    """The plans among the inputs, first seen first."""

    @property
    def total(self) -> int:
        """The jobs of the merged plan."""
        return self.record.total

    def find(self, words: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        """The merged plan's job ids of the keys ``words``, -1 for keys not in it."""
        return self.keys.find(words)

    def trusts(self, host: HostFolder) -> bool:
        """Whether a folder's rows keep their own job ids: all of them are of this pool."""
        return host.one_pool and host.pool_digest.hex() == self.record.pool_digest

    def owners_of(self, job_ids: Sequence[int]) -> dict[str, list[int]]:
        """The job ids grouped by the machine that owns them in this plan, machines in order."""
        owners = self.record.owners[np.asarray(job_ids, dtype=np.int64)]
        grouped: dict[str, list[int]] = {}
        for index, name in enumerate(self.record.machines):
            chosen = np.asarray(job_ids, dtype=np.int64)[owners == index]
            if len(chosen):
                grouped[name] = chosen.tolist()
        return grouped


def phase_fields(merged: MergedPlan, codes: npt.NDArray[np.uint8]) -> dict[str, object]:
    """report.json's phase fields of a campaign with barriers (none without).

    ``codes`` are each job's kept status code (`splitter.merge.rules.STATUS_CODES`,
    ABSENT for none). ``phases`` counts each phase, ``next_phase`` is the last
    one hosts may run now (``run --after M``), and ``phase_pending`` says that
    every missing job is of a phase not begun: the merge of a finished phase.
    """
    record = merged.record
    if not record.barriers:
        return {}
    of_job = record.phase_of()
    counts = []
    for phase in range(len(record.barriers) + 1):
        mine = codes[of_job == phase]
        done = mine[mine != ABSENT]
        counts.append(PhaseCount(len(mine), len(done), int(np.count_nonzero(done != 0))))
    checks = [False, *(barrier.check for barrier in record.barriers)]
    allowed = next_phase(counts, checks)
    later = counts[allowed:]
    begun = [count for count in later if count.done]
    return {
        "phases": [
            {"phase": index, "jobs": count.jobs, "done": count.done, "failed": count.failed,
             "check": checks[index],
             "barrier_line": record.barriers[index - 1].line if index else None}
            for index, count in enumerate(counts)
        ],
        "next_phase": allowed,
        "phase_pending": not begun and any(count.jobs for count in later),
    }  # fmt: skip


def phase_line(report: Mapping[str, Any], out: str) -> str | None:
    """What a merge of a phased campaign means for the hosts, in one line (None: no phases)."""
    phases = report.get("phases")
    if not phases:
        return None
    allowed = report["next_phase"]
    count = len(phases)
    if allowed == count - 1 and not report["missing"]:
        return f"all {count} phases complete"
    blocked = allowed + 1 < count and phases[allowed]["done"] == phases[allowed]["jobs"]
    if blocked and phases[allowed + 1]["check"]:
        failed = sum(phase["failed"] for phase in phases[: allowed + 1])
        return (
            f"the BARRIER CHECK of line {phases[allowed + 1]['barrier_line']} holds: {failed}"
            f" jobs before it failed; fix them, run their hosts again with --retry-failed, then"
            f" merge again"
        )
    if report.get("phase_pending"):
        return (
            f"phase {allowed + 1} of {count} may start: on every host, `run --after {out}`"
            " runs its share of it"
        )
    return (
        f"phase {allowed + 1} of {count} is not complete yet: merge again once every host has"
        " run its share of it"
    )


def check_one_campaign(hosts: Sequence[HostFolder]) -> None:
    """One splitter.ini over all folders, and manifests that agree within each plan."""
    first = hosts[0]
    for host in hosts:
        if host.config_digest != first.config_digest:
            raise VerificationError(
                f"{host.path} ran with another splitter.ini than {first.path} (config digest"
                f" {group_digest(host.config_digest)}, not {group_digest(first.config_digest)}),"
                " so their jobs' seeds differ; merge only the folders of one campaign's"
                " splitter.ini"
            )
        if host.share > host.total:
            raise VerificationError(
                f"{host.path / MANIFEST_NAME} has a share of {host.share} jobs, more than its"
                f" total {host.total}: restore the manifest.json that `run` wrote there"
            )
    by_plan: dict[bytes, HostFolder] = {}
    for host in hosts:
        seen = by_plan.setdefault(host.plan_digest, host)
        for field, mine, theirs in (
            ("total", host.total, seen.total),
            ("pool_digest", host.pool_digest.hex(), seen.pool_digest.hex()),
            ("campaign_seed", host.campaign_seed.hex(), seen.campaign_seed.hex()),
        ):
            if mine != theirs:
                raise VerificationError(
                    f"{host.path / MANIFEST_NAME} has {field} {mine}, but"
                    f" {seen.path / MANIFEST_NAME} has {theirs} with the same plan digest: a"
                    " manifest was edited; restore the manifest.json that `run` wrote there"
                )


def merged_plan(hosts: Sequence[HostFolder], chosen: Path | None = None) -> MergedPlan:
    """The plan to merge against: ``chosen``'s (``--plan DIR``), else the newest of the inputs'."""
    groups: dict[bytes, list[HostFolder]] = {}
    for host in hosts:
        groups.setdefault(host.plan_digest, []).append(host)
    plans = tuple(
        PlanSeen(digest.hex(), _first_run(members), tuple(str(host.path) for host in members))
        for digest, members in groups.items()
    )
    if chosen is not None:
        record = _read(chosen)
        source = chosen
    else:
        newest = max(groups, key=lambda digest: (_first_run(groups[digest]), digest.hex()))
        source, record = _record_of(groups[newest])
    return MergedPlan(record, source, JobKeys(record.keys), plans)


def _first_run(members: Sequence[HostFolder]) -> str:
    return min(host.plan_started for host in members)


def _record_of(members: Sequence[HostFolder]) -> tuple[Path, PlanRecord]:
    for host in members:
        record = read_plan_file(host.path)
        if record is not None and record.plan_digest == host.plan_digest.hex():
            return host.path, check_plan_total(host, record)
    raise ConfigError(
        f"{members[0].path} has no {PLAN_FILE} of its plan, which merge needs to tell which"
        " jobs the campaign holds; run that folder's plan again (nothing reruns) to rewrite it"
    )


def _read(folder: Path) -> PlanRecord:
    record = read_plan_file(folder)
    if record is None:
        raise ConfigError(
            f"--plan {folder} holds no {PLAN_FILE}; pass a host folder or a merged folder"
            " written by this version of splitter"
        )
    return record
