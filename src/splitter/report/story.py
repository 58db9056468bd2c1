"""The campaign's story: each host's runs, the pauses, the hosts lost and who rescued their jobs.

    HostRecord x N (manifests at hand) --runs--> RunBlock: original, resumed, rescue
    rescue folders' `rescue` report.json (the partial merge, when at hand)
        --missing_by_machine, machines_seen--> LostHost: whose jobs, how many, rescued by whom
    this report.json's missing_by_machine --> MissingOwner: the missing jobs by machine

A machine is lost when a partial merge listed jobs of it as missing and had
no folder of it; who rescued them is read from the merged rows of those
jobs. Pure: parsed reports, records and columns in, small dataclasses out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from splitter.report.hosts import HostRecord, Pause
from splitter.report.read import Columns
from splitter.report.schema import MergeReport

__all__ = [
    "LostHost",
    "MissingOwner",
    "Rescuer",
    "RunBlock",
    "Story",
    "campaign_story",
    "missing_owners",
]

RUN_KINDS = ("original", "resumed", "rescue")


@dataclass(frozen=True)
class RunBlock:
    """One run of one folder, on its machine's timeline."""

    machine: str
    folder: str
    kind: str  # one of RUN_KINDS
    start: float
    end: float
    jobs_done: int
    workers: int
    wall_seconds: float
    state: str  # its folder's state, as its manifest last said


@dataclass(frozen=True)
class LostHost:
    """Jobs a partial merge found missing, by the machine that owned them."""

    machine: str  # "" when that merge did not say whose jobs they were
    had_folder: bool  # True: its folder was merged, but its share was not done
    owned: tuple[int, ...]
    rescued_by: tuple[tuple[str, int], ...]  # (machine, jobs) that have a row of them now
    still_missing: int
    report: str  # the partial merge's report.json


@dataclass(frozen=True)
class Rescuer:
    """A rescue folder: which machine ran it, its rows, and the report it rescued."""

    machine: str
    folder: str
    rows: int
    report: str | None  # None: its manifest is not at hand to say


@dataclass(frozen=True)
class MissingOwner:
    """This report's missing jobs of one machine."""

    machine: str
    ids: tuple[int, ...]
    has_folder: bool
    state: str  # its folder's state ("" without a folder)


@dataclass(frozen=True)
class Story:
    """Everything the page says about how the campaign went."""

    blocks: tuple[RunBlock, ...]
    pauses: tuple[tuple[str, Pause], ...]  # (machine, pause)
    lost: tuple[LostHost, ...]
    rescuers: tuple[Rescuer, ...]
    missing: tuple[MissingOwner, ...]


def campaign_story(
    report: MergeReport,
    records: Mapping[str, HostRecord],
    partials: Mapping[str, MergeReport],
    cols: Columns,
) -> Story:
    """The story of `report`'s folders (`records`: the manifests at hand, by folder)."""
    blocks = [block for record in records.values() for block in _blocks(record)]
    pauses = [(record.machine, pause) for record in records.values() for pause in record.paused]
    lost = [host for path, partial in partials.items() for host in _lost(path, partial, cols)]
    return Story(
        tuple(sorted(blocks, key=lambda block: block.start)), tuple(pauses), tuple(lost),
        tuple(_rescuers(report, records)), tuple(missing_owners(report)),
    )  # fmt: skip


def missing_owners(report: MergeReport) -> list[MissingOwner]:
    """The report's missing jobs grouped by the machine that owned them (when it says)."""
    if not report.missing_by_machine:
        return []
    states = {folder.machine: folder.state for folder in report.folders}
    return [
        MissingOwner(machine, ids, machine in report.machines_seen, states.get(machine, ""))
        for machine, ids in report.missing_by_machine.items()
        if ids
    ]


def _blocks(record: HostRecord) -> list[RunBlock]:
    found = []
    for place, run in enumerate(record.runs):
        kind = record.kind if record.kind == "rescue" or place == 0 else "resumed"
        found.append(
            RunBlock(
                record.machine,
                record.folder,
                kind,
                run.started,
                run.ended,
                run.jobs_done,
                run.workers,
                run.wall_seconds,
                record.state,
            )
        )
    return found


def _lost(path: str, partial: MergeReport, cols: Columns) -> list[LostHost]:
    owners: Mapping[str, Sequence[int]] = (
        partial.missing_by_machine
        if partial.missing_by_machine is not None
        else {"": partial.missing}
    )
    found = []
    for machine, owned in owners.items():
        if not owned:
            continue
        rows = np.isin(cols.job_id, np.asarray(owned, dtype=np.int64))
        codes, counts = np.unique(cols.machine[rows], return_counts=True)
        rescued = tuple(
            (cols.machines[code], int(n)) for code, n in zip(codes.tolist(), counts.tolist(),
                                                               strict=True)
        )  # fmt: skip
        found.append(
            LostHost(
                machine,
                machine in partial.machines_seen,
                tuple(owned),
                rescued,
                len(owned) - int(rows.sum()),
                path,
            )
        )
    return found


def _rescuers(report: MergeReport, records: Mapping[str, HostRecord]) -> list[Rescuer]:
    found = []
    for folder in report.folders:
        record = records.get(folder.folder)
        if record is not None and record.rescue is not None:
            found.append(Rescuer(folder.machine, folder.folder, folder.rows, record.rescue))
        elif record is None and ".rescue-" in folder.folder:
            found.append(Rescuer(folder.machine, folder.folder, folder.rows, None))
    return found
