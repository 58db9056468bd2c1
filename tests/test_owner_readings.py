"""Tests for the owner's readings: /proc parsed, others' load, keyboard idle sources."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from splitter.campaign.owner import OwnerSettings
from splitter.run.owner.readings import (
    LoadReader,
    MachineReader,
    hid_idle_seconds,
    ps2_interrupts,
)
from splitter.run.proctree import ProcessInfo, busy_ticks, descendants, parse_stat, process_table

linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def test_a_stat_line_gives_parent_group_and_ticks_whatever_the_name_holds() -> None:
    line = "4242 (a (strange) name) S 17 4200 4200 0 -1 0 0 0 0 0 120 30 7 3 20 0 1 0 99 0 0"
    assert parse_stat(line) == ProcessInfo(pid=4242, ppid=17, pgid=4200, ticks=160)
    assert parse_stat("not a stat line") is None


def test_descendants_come_parents_first_and_leave_others_out() -> None:
    table = {
        pid: ProcessInfo(pid, ppid, pid, 0)
        for pid, ppid in [(1, 0), (10, 1), (11, 10), (12, 10), (13, 11), (20, 1)]
    }
    assert descendants(table, 10) == [11, 12, 13]
    assert descendants(table, 13) == []


def write_proc(proc: Path, busy: int, processes: dict[int, tuple[int, int]]) -> None:
    """A fake /proc: the cpu line's busy ticks, and each pid's (parent, ticks)."""
    proc.mkdir(exist_ok=True)
    (proc / "stat").write_text(f"cpu  {busy} 0 0 1000 0 0 0 0 0 0\ncpu0 1 2 3\n")
    for pid, (ppid, ticks) in processes.items():
        (proc / str(pid)).mkdir(exist_ok=True)
        fields = f"S {ppid} {pid} 0 0 0 0 0 0 0 0 {ticks} 0 0 0 20 0 1 0"
        (proc / str(pid) / "stat").write_text(f"{pid} (python) {fields}\n")


def test_others_load_is_the_machines_busy_time_less_this_runs_processes(tmp_path: Path) -> None:
    proc, clock = tmp_path / "proc", [0.0]
    write_proc(proc, 1000, {1: (0, 0), 50: (1, 100), 51: (50, 200), 60: (1, 5)})
    reader = LoadReader(50, proc, lambda: clock[0])
    tick = os.sysconf("SC_CLK_TCK")
    # In 2 s: the machine was busy 3 cores' worth, this run (50 and its child 51) 1 core.
    clock[0] = 2.0
    write_proc(proc, 1000 + 6 * tick, {1: (0, 0), 50: (1, 100 + tick), 51: (50, 200 + tick)})
    assert reader.read(running_jobs=1) == pytest.approx(2.0)
    assert busy_ticks(proc) == 1000 + 6 * tick


def test_a_process_that_leaves_this_runs_tree_does_not_count_as_others_load(
    tmp_path: Path,
) -> None:
    proc, clock = tmp_path / "proc", [0.0]
    write_proc(proc, 1000, {50: (1, 100), 51: (50, 500)})
    reader = LoadReader(50, proc, lambda: clock[0])
    clock[0] = 1.0
    write_proc(proc, 1000, {50: (1, 100), 51: (1, 500)})  # 51 was reparented, and idle
    assert reader.read(running_jobs=0) == 0.0


def test_others_load_never_reads_below_zero(tmp_path: Path) -> None:
    proc, clock = tmp_path / "proc", [0.0]
    write_proc(proc, 1000, {50: (1, 100)})
    reader = LoadReader(50, proc, lambda: clock[0])
    clock[0] = 1.0
    write_proc(proc, 1001, {50: (1, 300)})
    assert reader.read(running_jobs=2) == 0.0


@linux_only
def test_this_hosts_process_table_holds_this_process_and_its_parent() -> None:
    table = process_table()
    assert table is not None
    assert table[os.getpid()].ppid == os.getppid()
    assert os.getpid() in descendants(table, os.getppid())


INTERRUPTS = """\
           CPU0       CPU1
  1:          9        372   IO-APIC   1-edge      i8042
 12:        120         44   IO-APIC  12-edge      i8042
 36:          0      76161  PCI-MSIX  1-edge      virtio1-req.0
"""


def test_ps2_interrupts_sum_the_keyboard_and_mouse_lines() -> None:
    assert ps2_interrupts(INTERRUPTS) == 9 + 372 + 120 + 44
    assert ps2_interrupts(INTERRUPTS.replace("i8042", "ttyS0")) is None


def test_macos_idle_time_is_ioregs_nanoseconds() -> None:
    text = '    |   "HIDIdleTime" = 125500000000\n    |   "HIDIdleTimeExpiration" = 0\n'
    assert hid_idle_seconds(text) == 125.5
    assert hid_idle_seconds("no such key") is None


@pytest.mark.skipif(sys.platform != "linux", reason="Linux readings")
def test_a_reader_takes_only_what_its_rules_need() -> None:
    readings = MachineReader(OwnerSettings(), os.getpid()).read(5.0, 0.0, 0)
    assert (readings.clock, readings.load, readings.idle) == (5.0, None, None)
    assert MachineReader(OwnerSettings(max_load=1.0), os.getpid()).unreadable == []
