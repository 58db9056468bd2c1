"""This host's processes as a tree, from Linux's /proc: whose child each is, and its CPU time.

Two users: stopping a job in place stops every process under its worker
(`splitter.run.local.freeze`), and the owner's load rule counts the CPU time
of every process that is not under this run (`splitter.run.owner.readings`).
Elsewhere (no /proc) `process_table` is None and both do with less.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PROC", "ProcessInfo", "busy_ticks", "descendants", "parse_stat", "process_table"]

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessInfo:
    """One process: its parent, its process group, its CPU ticks and its ended children's."""

    pid: int
    ppid: int
    pgid: int
    ticks: int


def parse_stat(text: str) -> ProcessInfo | None:
    """A /proc/<pid>/stat line; None if it is not one (the command name may hold anything)."""
    head, _, rest = text.rpartition(")")
    fields = rest.split()
    if not head or len(fields) < 15:
        return None
    try:
        pid = int(head.partition("(")[0])
        # After the name: state, ppid, pgrp, ...; utime, stime, cutime, cstime are 12..15.
        ticks = sum(int(field) for field in fields[11:15])
        return ProcessInfo(pid, int(fields[1]), int(fields[2]), ticks)
    except ValueError:
        return None


def process_table(proc: Path = PROC) -> dict[int, ProcessInfo] | None:
    """Every process this user can see, by pid; None where there is no /proc."""
    try:
        names = os.listdir(proc)
    except OSError:
        return None
    table: dict[int, ProcessInfo] = {}
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(proc / name / "stat", encoding="utf-8", errors="replace") as f:
                info = parse_stat(f.read())
        except OSError:
            continue  # it ended while we looked
        if info is not None:
            table[info.pid] = info
    return table if table else None


def descendants(table: Mapping[int, ProcessInfo], root: int) -> list[int]:
    """The processes under ``root`` (not root itself), parents before their children."""
    children: dict[int, list[int]] = {}
    for info in table.values():
        children.setdefault(info.ppid, []).append(info.pid)
    found: list[int] = []
    queue = [root]
    while queue:
        below = children.get(queue.pop(0), [])
        found.extend(below)
        queue.extend(below)
    return found


def busy_ticks(proc: Path = PROC) -> int | None:
    """CPU ticks every CPU has spent busy since boot (/proc/stat), idle and iowait left out."""
    try:
        with open(proc / "stat", encoding="ascii", errors="replace") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if len(fields) < 9 or fields[0] != "cpu":
        return None
    try:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[1:9])
    except ValueError:
        return None
    return user + nice + system + irq + softirq + steal
