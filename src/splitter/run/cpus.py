"""How many CPUs this process may use: its CPU affinity, capped by a cgroup CPU quota.

``os.cpu_count()`` counts the machine's CPUs, not the ones a container or a
batch slot grants, so a pool of that size oversubscribes them. The figure
here is the smallest of: the CPUs in this process's affinity mask, and the
cgroup quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``)
rounded up, since a quota of 1.5 CPUs still runs two workers usefully.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

__all__ = ["cgroup_quota_cpus", "quota_from_cfs", "quota_from_cpu_max", "usable_cpus"]

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def usable_cpus(cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> int:
    """The CPUs this process may use: affinity, capped by a cgroup CPU quota; at least 1."""
    if hasattr(os, "sched_getaffinity"):
        count = len(os.sched_getaffinity(0))
    else:  # Windows and macOS have no affinity call in os
        count = os.cpu_count() or 1
    quota = cgroup_quota_cpus(cgroup_root, proc_cgroup)
    if quota is not None:
        count = min(count, math.ceil(quota))
    return max(1, count)


def quota_from_cpu_max(text: str) -> float | None:
    """CPUs granted by a cgroup v2 ``cpu.max`` ("QUOTA PERIOD"; "max ..." is no limit)."""
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    return _ratio(parts[0], parts[1])


def quota_from_cfs(quota: str, period: str) -> float | None:
    """CPUs granted by cgroup v1 ``cpu.cfs_quota_us`` and ``cpu.cfs_period_us`` (-1: none)."""
    return _ratio(quota.strip(), period.strip())


def _ratio(quota: str, period: str) -> float | None:
    try:
        q, p = int(quota), int(period)
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None


def cgroup_quota_cpus(cgroup_root: Path, proc_cgroup: Path) -> float | None:
    """The tightest CPU quota on this process's cgroup path (v2 or v1); None when none."""
    quotas = [q for q in (_v2_quota(cgroup_root, proc_cgroup), _v1_quota(cgroup_root)) if q]
    return min(quotas) if quotas else None


def _v2_quota(root: Path, proc_cgroup: Path) -> float | None:
    """The smallest ``cpu.max`` from this process's cgroup up to the root (a parent caps too)."""
    relative = _v2_path(proc_cgroup)
    if relative is None:
        return None
    folder = root / relative.lstrip("/")
    found: list[float] = []
    while True:
        quota = quota_from_cpu_max(_read(folder / "cpu.max") or "")
        if quota is not None:
            found.append(quota)
        if folder == root or root not in folder.parents:
            break
        folder = folder.parent
    return min(found) if found else None


def _v2_path(proc_cgroup: Path) -> str | None:
    for line in (_read(proc_cgroup) or "").splitlines():
        if line.startswith("0::"):
            return line[3:] or "/"
    return None


def _v1_quota(root: Path) -> float | None:
    for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        quota = _read(root / name / "cpu.cfs_quota_us")
        period = _read(root / name / "cpu.cfs_period_us")
        if quota is not None and period is not None:
            return quota_from_cfs(quota, period)
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
