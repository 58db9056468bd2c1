"""Where each host folder stands: done, ok, failed and remaining, also during a run.

A live run's open last frame is reported as `live`, not as damage, while the
manifest says the run is still going and a process holds the folder's lock
(a manifest that says "running" with a free lock is a run that was killed:
`stopped`); a paused run says since when and why. A running host's ETA is its remaining
jobs over the rate its runner last wrote to the manifest (measured after the
first seconds of the run); over several folders, `status_table` says which
host will finish last and how long after the first.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from splitter.campaign.digest import group_digest
from splitter.campaign.identity import JobKeys
from splitter.merge.rules import ABSENT, STATUS_CODES, BestRows
from splitter.merge.scan import Promoted, attempt_of, scan_results
from splitter.store.hostfolder import HostFolder, check_plan_total, job_columns, read_host
from splitter.store.lock import probe_lock
from splitter.store.planfile import PlanRecord, read_plan_file
from splitter.store.rowformat import FAILED_STATUSES

__all__ = ["FolderStatus", "folder_status", "last_to_finish", "status_table", "unseen_machines"]


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
    rate: float | None = None
    """Jobs per second of its run, after the first seconds (from the manifest)."""
    eta_seconds: float | None = None
    """While running: seconds until its remaining jobs are done at that rate."""
    finish: float | None = None
    """Unix time it finished (from the manifest), or will finish at that rate."""
    paused: dict[str, Any] | None = None
    """While its run is paused: ``since`` (Unix seconds) and ``reason``."""

    def as_json(self) -> dict[str, Any]:
        """The folder's entry in `status --json`."""
        return dict(self.__dict__)

    def line(self) -> str:
        """One line for the console."""
        failed = ", ".join(f"{n} {status}" for status, n in self.failed.items() if n)
        text = (
            f"{self.machine} ({self.folder}): {self._state()}, {self.done}/{self.share} done, "
            f"{self.ok} ok, {sum(self.failed.values())} failed{f' ({failed})' if failed else ''},"
            f" {self.remaining} remaining, digest {self.digest}"
        )
        if self.eta_seconds is not None and self.rate is not None:
            text += f"; about {duration(self.eta_seconds)} left at {self.rate:.3g} jobs/s"
            text += " once it continues" if self.paused else ""
        if self.live:
            text += f"; live: {self.live}"
        if self.damage:
            text += f"; damaged: {self.damage}"
        return text

    def _state(self) -> str:
        if self.state == "stopped":
            return "stopped (not running); run again to resume"
        if self.paused is not None:
            since = time.strftime("%H:%M", time.localtime(self.paused["since"]))
            return f"{self.state}, paused since {since} ({self.paused['reason']})"
        return self.state


def folder_status(folder: Path) -> FolderStatus:
    """Read one host folder, also while its run is still appending to it."""
    host = read_host(folder)
    record = check_plan_total(host, read_plan_file(folder))
    best: BestRows[str | Promoted] = BestRows(record.total, attempt_of)
    find = None if host.one_pool else JobKeys(record.keys).find
    scan = scan_results(host, job_columns(host), best, {}, find=find)
    codes = best.codes[_share_mask(host, record)]
    count = np.bincount(codes[codes != ABSENT], minlength=len(STATUS_CODES))
    done = int(count.sum())
    remaining = max(0, host.share - done)
    state = "stopped" if host.state == "running" and not _alive(host) else host.state
    live = state == "running"
    paused = host.paused if live else None
    rate = host.observed.rate if host.observed is not None else None
    eta = remaining / rate if live and rate else None
    finish = time.time() + eta if eta is not None else None
    if host.state == "finished" and host.observed is not None:
        finish = host.observed.updated
    return FolderStatus(
        folder=str(folder), machine=host.machine, state=state, share=host.share,
        done=done, ok=int(count[STATUS_CODES["ok"]]),
        failed={status: int(count[STATUS_CODES[status]]) for status in FAILED_STATUSES},
        remaining=remaining, digest=group_digest(host.digest),
        live=scan.damage if live else None, damage=None if live else scan.damage,
        rate=rate, eta_seconds=None if eta is None else round(eta, 3),
        finish=None if finish is None else round(finish, 3),
        paused=None if paused is None else {"since": paused[0], "reason": paused[1]},
    )  # fmt: skip


def _share_mask(host: HostFolder, record: PlanRecord | None) -> npt.NDArray[np.bool_] | slice:
    """The jobs of the folder's share in its plan: rows of jobs now other machines' don't count."""
    if record is None or host.machine not in record.machines or host.digest != host.plan_digest:
        return slice(None)  # a rescue's share is not the plan's: its rows are all of it
    mask: npt.NDArray[np.bool_] = record.owners == record.machines.index(host.machine)
    return mask


def _alive(host: HostFolder) -> bool:
    """Whether a run holds the folder now; a copy of another host's folder cannot be asked."""
    lock = probe_lock(host.path)
    if lock.held is None or lock.held:
        return True
    return lock.host is not None and lock.host != socket.gethostname()


def unseen_machines(folders: Sequence[Path], statuses: Sequence[FolderStatus]) -> list[str]:
    """Lines for the machines of the folders' plans that no given folder is of.

    ``gamma: no folder given, 800 jobs``: a host forgotten in the command, or
    lost, shows up instead of silently missing from the table.
    """
    seen = {status.machine for status in statuses}
    lines: dict[str, str] = {}
    for folder in folders:
        record = read_plan_file(folder)
        if record is None:
            continue
        counts = np.bincount(record.owners, minlength=len(record.machines))
        for index, name in enumerate(record.machines):
            if name not in seen and name not in lines:
                lines[name] = f"{name}: no folder given, {int(counts[index])} jobs"
    return list(lines.values())


def status_table(statuses: Sequence[FolderStatus], unseen: Sequence[str] = ()) -> str:
    """The console text of `status`: one line per folder, the machines with none, then who
    finishes last."""
    lines = [status.line() for status in statuses] + list(unseen)
    last = last_to_finish(statuses)
    if last is not None:
        lines.append(last)
    return "\n".join(lines)


def last_to_finish(statuses: Iterable[FolderStatus]) -> str | None:
    """Which host finishes last and how long after the first; None unless one still runs."""
    timed = [status for status in statuses if status.finish is not None]
    if len(timed) < 2 or all(status.eta_seconds is None for status in timed):
        return None
    first = min(timed, key=lambda status: status.finish or 0.0)
    last = max(timed, key=lambda status: status.finish or 0.0)
    gap = (last.finish or 0.0) - (first.finish or 0.0)
    verb = "finishes" if last.eta_seconds is not None else "finished"
    return f"last to finish: {last.machine} {verb} about {duration(gap)} after {first.machine}"


def duration(seconds: float) -> str:
    """``1h02m05s``, ``3m07s`` or ``12s``, as the run's progress line writes them."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
