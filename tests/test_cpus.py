"""usable_cpus: affinity capped by a cgroup quota, read from fake cgroup trees."""

from __future__ import annotations

import os
from pathlib import Path

from splitter.run.cpus import quota_from_cfs, quota_from_cpu_max, usable_cpus

AFFINITY = len(os.sched_getaffinity(0))


def v2_tree(tmp_path: Path, limits: dict[str, str], own: str = "/job/step") -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    for relative, text in limits.items():
        folder = root / relative.lstrip("/")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "cpu.max").write_text(text + "\n")
    proc = tmp_path / "proc-cgroup"
    proc.write_text(f"0::{own}\n")
    return root, proc


def test_cpu_max_gives_quota_over_period() -> None:
    assert quota_from_cpu_max("150000 100000") == 1.5


def test_cpu_max_of_max_is_no_limit() -> None:
    assert quota_from_cpu_max("max 100000") is None


def test_cfs_quota_of_minus_one_is_no_limit() -> None:
    assert quota_from_cfs("-1", "100000") is None
    assert quota_from_cfs("200000\n", "100000\n") == 2.0


def test_without_cgroup_files_the_affinity_counts(tmp_path: Path) -> None:
    assert usable_cpus(tmp_path / "none", tmp_path / "none") == AFFINITY


def test_a_v2_quota_below_the_affinity_caps_it_rounded_up(tmp_path: Path) -> None:
    root, proc = v2_tree(tmp_path, {"/job/step": "50000 100000"})
    assert usable_cpus(root, proc) == 1


def test_a_parent_cgroups_quota_caps_its_children(tmp_path: Path) -> None:
    root, proc = v2_tree(tmp_path, {"/job": "100000 100000", "/job/step": "max 100000"})
    assert usable_cpus(root, proc) == 1


def test_a_quota_above_the_affinity_changes_nothing(tmp_path: Path) -> None:
    root, proc = v2_tree(tmp_path, {"/job/step": f"{(AFFINITY + 3) * 100000} 100000"})
    assert usable_cpus(root, proc) == AFFINITY


def test_a_v1_cfs_quota_caps_the_affinity(tmp_path: Path) -> None:
    folder = tmp_path / "cgroup" / "cpu,cpuacct"
    folder.mkdir(parents=True)
    (folder / "cpu.cfs_quota_us").write_text("100000\n")
    (folder / "cpu.cfs_period_us").write_text("100000\n")
    assert usable_cpus(tmp_path / "cgroup", tmp_path / "none") == 1
