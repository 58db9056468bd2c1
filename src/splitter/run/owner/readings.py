"""Readings for the owner's policy: others' load, keyboard and mouse idle time, the local time.

    /proc/stat busy ticks - this run's processes' ticks (/proc/<pid>/stat) --> load of others
    newest atime of /dev/tty*, /dev/pts/*, /dev/input/*; PS/2 interrupts --> idle (Linux)
    ioreg's HIDIdleTime --> idle (macOS)

The load is the cores other processes kept busy since the last reading,
measured from CPU ticks rather than the load average: it sees a busy
process within one reading (the one-minute average takes a minute), and it
leaves this run's own processes out, so pausing the run cannot by itself
clear the rule. Without /proc (macOS) it is the one-minute load average less
this run's running jobs. Keyboard and mouse use, as HTCondor reads it: a
terminal's access time moves when someone types in it (ssh sessions too),
an input device's when its events are read, and the i8042 line of
/proc/interrupts counts PS/2 keys and moves. What cannot be read here is
None, and `unreadable` says so in words, once.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from splitter.campaign.owner import OwnerSettings
from splitter.run.owner.policy import Readings
from splitter.run.proctree import PROC, busy_ticks, descendants, process_table

__all__ = [
    "DEVICE_PATTERNS",
    "IdleReader",
    "LoadReader",
    "MachineReader",
    "hid_idle_seconds",
    "ps2_interrupts",
]

DEVICE_PATTERNS = (
    "/dev/tty[0-9]*",
    "/dev/pts/[0-9]*",
    "/dev/input/event*",
    "/dev/input/mice",
    "/dev/input/mouse*",
)
_HID_IDLE = re.compile(r'"HIDIdleTime"\s*=\s*([0-9]+)')


def ps2_interrupts(text: str) -> int | None:
    """The summed counts of /proc/interrupts' i8042 lines (PS/2 keyboard and mouse); None: none."""
    total, found = 0, False
    for line in text.splitlines():
        if "i8042" not in line:
            continue
        found = True
        total += sum(int(field) for field in line.split()[1:] if field.isdigit())
    return total if found else None


def hid_idle_seconds(text: str) -> float | None:
    """Seconds since the last input event, from ``ioreg -c IOHIDSystem`` (nanoseconds there)."""
    found = _HID_IDLE.search(text)
    return int(found[1]) / 1e9 if found else None


class LoadReader:
    """Cores kept busy by processes outside this run (``root`` and what runs under it)."""

    def __init__(self, root: int, proc: Path = PROC, clock: Callable[[], float] = time.monotonic):
        self._root, self._proc, self._clock = root, proc, clock
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._last = self._sample()
        self.readable = self._last is not None or hasattr(os, "getloadavg")

    def _sample(self) -> tuple[float, int, dict[int, int]] | None:
        busy, table = busy_ticks(self._proc), process_table(self._proc)
        if busy is None or table is None or self._root not in table:
            return None
        ours = {pid: table[pid].ticks for pid in (self._root, *descendants(table, self._root))}
        return self._clock(), busy, ours

    def read(self, running_jobs: int) -> float | None:
        """Others' busy cores since the last reading (``running_jobs``: where no ticks are)."""
        if self._last is None:
            if not hasattr(os, "getloadavg"):
                return None
            return max(0.0, os.getloadavg()[0] - running_jobs)
        now = self._sample()
        if now is None:
            return None
        (then, busy_then, ours_then), (at, busy, ours) = self._last, now
        self._last = now
        if at <= then:
            return None
        # Per process: one that left the run's tree (a daemon a job started) takes its
        # past ticks with it, rather than showing up as others' load.
        mine = sum(ticks - ours_then.get(pid, 0) for pid, ticks in ours.items())
        return max(0, busy - busy_then - mine) / self._tick / (at - then)


class IdleReader:
    """Seconds since someone used this machine's keyboard or mouse, where that can be read."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._devices = [path for pattern in DEVICE_PATTERNS for path in glob.glob(pattern)]
        self._interrupts = self._ps2()
        self._changed: float | None = None  # no key pressed since we began to look
        self._mac = sys.platform == "darwin"
        self.readable = bool(self._devices) or self._interrupts is not None or self._mac

    def _ps2(self) -> int | None:
        try:
            return ps2_interrupts(Path("/proc/interrupts").read_text(errors="replace"))
        except OSError:
            return None

    def read(self) -> float | None:
        """Seconds since the last use; None when nothing can be read here."""
        now = self._clock()
        if self._mac:
            return self._mac_idle()
        found: list[float] = []
        for path in self._devices:
            try:
                found.append(now - os.stat(path).st_atime)
            except OSError:
                continue
        count = self._ps2()
        if count is not None and count != self._interrupts:
            self._interrupts, self._changed = count, now
        if self._changed is not None:
            found.append(now - self._changed)
        return max(0.0, min(found)) if found else None

    def _mac_idle(self) -> float | None:
        try:
            done = subprocess.run(
                ["ioreg", "-c", "IOHIDSystem", "-d", "4"],
                capture_output=True, text=True, timeout=5, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired):
            return None
        return hid_idle_seconds(done.stdout)


class MachineReader:
    """Takes the readings the rules need, and only those."""

    def __init__(self, rules: OwnerSettings, root: int) -> None:
        self._load = LoadReader(root) if rules.max_load is not None else None
        self._idle = IdleReader() if rules.idle_minutes is not None else None
        self.unreadable: list[str] = []
        if self._load is not None and not self._load.readable:
            self.unreadable.append("the load of other processes (max_load)")
        if self._idle is not None and not self._idle.readable:
            self.unreadable.append("keyboard or mouse use (idle_minutes)")

    def read(self, clock: float, wall: float, running_jobs: int) -> Readings:
        """The readings now; ``running_jobs`` is how many of this run's jobs run."""
        local = time.localtime(wall)
        return Readings(
            clock=clock,
            weekday=local.tm_wday,
            minute=local.tm_hour * 60 + local.tm_min,
            load=self._load.read(running_jobs) if self._load is not None else None,
            idle=self._idle.read() if self._idle is not None else None,
        )
