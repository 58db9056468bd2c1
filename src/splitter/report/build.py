"""Write M/report.html for a merged folder M: read, count, draw, assemble, rename.

    M/report.json ------------------------------+
    M/results.csv.zst --read_columns--> Columns + Failures --stats--> figures --plots--> SVG
    host folders' manifest.json (when at hand) --+--> page.render_page --> M/report.html

The HTML goes to a temporary name in the target's folder first and replaces
the target in one rename, so a failed report leaves an older one whole.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from splitter.errors import ConfigError, SplitterError
from splitter.merge.rules import REPORT_NAME
from splitter.report import plots
from splitter.report.page import Page, render_page
from splitter.report.read import Columns, merged_results_path, read_columns
from splitter.report.stats import (
    GANTT_MAX_ROWS,
    Capacity,
    HostStats,
    capacity_rows,
    failure_lines,
    host_stats,
    slowest_jobs,
)
from splitter.store.manifest import read_manifest

__all__ = ["HTML_NAME", "ReportResult", "write_report"]

HTML_NAME = "report.html"


@dataclass(frozen=True)
class ReportResult:
    """Where the report went, and what it could not use (one sentence each)."""

    path: Path
    rows: int
    warnings: tuple[str, ...]


def write_report(merged: Path, out: Path | None = None, *, version: str = "") -> ReportResult:
    """Write the HTML report of the merged folder `merged` to `out` (default M/report.html).

    `version` is splitter's own, named in the page. Raises UsageError when
    matplotlib is missing, ConfigError when `merged` is not a merged folder.
    """
    drawn_by = plots.require_matplotlib()
    report = _read_report(merged)
    cols, failures = read_columns(merged_results_path(merged))
    manifests, warnings = _manifests(report)
    hosts = host_stats(cols, _machine_order(report))
    capacity = capacity_rows(report, manifests, hosts)
    page = Page(
        title=f"splitter report: {merged}", report=report, hosts=hosts, capacity=capacity,
        failures=failure_lines(failures), slowest=slowest_jobs(cols),
        svgs=_pictures(cols, hosts, capacity), timeline_note=_mode(cols),
        versions={"splitter": version, "matplotlib": drawn_by, "NumPy": np.__version__,
                  "Python": platform.python_version()},
        notes=warnings,
    )  # fmt: skip
    target = merged / HTML_NAME if out is None else out
    _write_atomically(target, render_page(page))
    return ReportResult(target, len(cols.job_id), tuple(warnings))


def _pictures(
    cols: Columns, hosts: Sequence[HostStats], capacity: Sequence[Capacity]
) -> dict[str, str]:
    if not hosts:
        return {}
    t0 = float(cols.start.min())
    svgs = {
        "timeline": plots.timeline_svg(cols, hosts, t0),
        "throughput": plots.throughput_svg(cols, hosts, t0),
        "durations": plots.durations_svg(cols, hosts),
    }
    if any(row.declared is not None for row in capacity):
        svgs["capacity"] = plots.capacity_svg(capacity)
    return svgs


def _mode(cols: Columns) -> str:
    if len(cols.job_id) <= GANTT_MAX_ROWS:
        return (
            "Each bar is a job, coloured by status, on the worker lane it ran in (lanes are"
            " rebuilt from the start and end times)."
        )
    return (
        f"{len(cols.job_id):,} jobs are too many to draw one by one (more than"
        f" {GANTT_MAX_ROWS:,}): each line counts a host's jobs finished over time."
    )


def _machine_order(report: Mapping[str, Any]) -> list[str]:
    """The machines in the order the merge listed its folders."""
    listed = report.get("machines")
    entries = listed if isinstance(listed, list) else []
    return [
        str(entry["machine"])
        for entry in entries
        if isinstance(entry, dict) and "machine" in entry
    ]


def _read_report(merged: Path) -> dict[str, Any]:
    path = merged / REPORT_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{merged} has no {REPORT_NAME}; pass the folder that `merge DIR... --out M`"
            " wrote (M), or merge first"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"{path} is not valid JSON ({exc}); merge again with --force to rewrite it"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a JSON object; merge again with --force to rewrite it")
    return data


def _manifests(report: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The manifests of the merge's input folders that are still at hand, by machine."""
    found: dict[str, dict[str, Any]] = {}
    warnings = []
    for folder in report.get("inputs", []):
        path = Path(str(folder))
        if not path.is_dir():
            continue  # merged elsewhere, or the folders have moved: report.json suffices
        try:
            data = read_manifest(path)
        except SplitterError as exc:
            warnings.append(f"left out {path}: {exc}")
            continue
        machine = data.get("machine")
        if isinstance(machine, str):
            found[machine] = data
    return found, warnings


def _write_atomically(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
