"""Where each host folder stands: done, ok, failed and remaining, also during a run.

A live run's open last frame is reported as `live`, not as damage, while the
manifest says the run is still going.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splitter.campaign.digest import group_digest
from splitter.merge.rules import BestRows
from splitter.merge.scan import Promoted, scan_results, start_of
from splitter.store.hostfolder import job_columns, read_host
from splitter.store.rowformat import FAILED_STATUSES

__all__ = ["FolderStatus", "folder_status", "status_table"]


@dataclass(frozen=True)
class FolderStatus:
    """Where one host folder stands: counts over distinct jobs, by each job's best attempt."""

    folder: str
    machine: str
    state: str
    share: int
    done: int
    ok: int
    failed: dict[str, int]
    remaining: int
    digest: str
    live: str | None
    damage: str | None

    def as_json(self) -> dict[str, Any]:
        """The folder's entry in `status --json`."""
        return dict(self.__dict__)

    def line(self) -> str:
        """One line for the console."""
        failed = ", ".join(f"{n} {status}" for status, n in self.failed.items() if n)
        text = (
            f"{self.machine} ({self.folder}): {self.state}, {self.done}/{self.share} done, "
            f"{self.ok} ok, {sum(self.failed.values())} failed{f' ({failed})' if failed else ''},"
            f" {self.remaining} remaining, digest {self.digest}"
        )
        if self.live:
            text += f"; live: {self.live}"
        if self.damage:
            text += f"; damaged: {self.damage}"
        return text


def folder_status(folder: Path) -> FolderStatus:
    """Read one host folder, also while its run is still appending to it."""
    host = read_host(folder)
    best: BestRows[str | Promoted] = BestRows(host.total, start_of)
    scan = scan_results(host, job_columns(host), best, {})
    live = host.state == "running"
    return FolderStatus(
        folder=str(folder), machine=host.machine, state=host.state, share=host.share,
        done=best.present, ok=best.count("ok"),
        failed={status: best.count(status) for status in FAILED_STATUSES},
        remaining=max(0, host.share - best.present), digest=group_digest(host.digest),
        live=scan.damage if live else None, damage=None if live else scan.damage,
    )  # fmt: skip


def status_table(statuses: Iterable[FolderStatus]) -> str:
    """The console text of `status`: one line per folder."""
    return "\n".join(status.line() for status in statuses)
