"""Write M/report.html for a merged folder M: read, count, draw, assemble, rename.

    M/report.json --sources--> MergeReport -----------------------------+
    input folders' manifest.json --sources--> HostRecords --story------+--> page --> M/report.html
    rescue folders' partial report.json --sources--> MergeReports ------+
    M/results.csv.zst --read--> Columns, Failures, values --stats, usage, plots--> figures, SVG

The target is refused unless it is new or a report written here (its head's
marker). The HTML goes to a temporary name in the target's folder first and
replaces the target in one rename, so a failed report leaves an older one
whole.
"""

from __future__ import annotations

import os
import platform
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from splitter.report import plots
from splitter.report.failures import failure_kinds, failure_lines
from splitter.report.page import Page, render_page
from splitter.report.read import Columns, ResultTable, merged_results_path, read_columns
from splitter.report.resultplots import results_svg
from splitter.report.sources import check_target, host_records, load_report, partial_reports
from splitter.report.stats import GANTT_MAX_ROWS, HostStats, host_stats, slowest_jobs
from splitter.report.story import Story, campaign_story
from splitter.report.timeline import timeline_start, timeline_svg
from splitter.report.usage import Capacity, capacity_rows, machine_usage

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
    matplotlib is missing or `out` is a file other than a report, ConfigError
    when `merged` is not a merged folder or its files are not as merge wrote them.
    """
    drawn_by = plots.require_matplotlib()
    target = merged / HTML_NAME if out is None else out
    check_target(target)
    report = load_report(merged)
    table = read_columns(merged_results_path(merged))
    records, warnings = host_records(report)
    partials, more = partial_reports(records)
    cols = table.columns
    story = campaign_story(report, records, partials, cols)
    hosts = host_stats(cols, [folder.machine for folder in report.folders])
    usage = machine_usage(cols, hosts, records)
    capacity = capacity_rows(report, records, usage)
    page = Page(
        title=f"splitter report: {merged}", report=report, hosts=hosts, usage=usage,
        capacity=capacity, story=story, records=list(records.values()),
        failures=failure_lines(table.failures), kinds=failure_kinds(table.failures),
        slowest=slowest_jobs(cols), details=table.details, values=table.values,
        stride=table.stride, svgs=_pictures(table, hosts, capacity, story),
        timeline_note=_mode(cols, story), notes=[*warnings, *more],
        versions={"splitter": version, "matplotlib": drawn_by, "NumPy": np.__version__,
                  "Python": platform.python_version()},
    )  # fmt: skip
    _write_atomically(target, render_page(page))
    return ReportResult(target, len(cols.job_id), (*warnings, *more))


def _pictures(
    table: ResultTable, hosts: Sequence[HostStats], capacity: Sequence[Capacity], story: Story
) -> dict[str, str]:
    if not hosts:
        return {}
    cols = table.columns
    t0 = timeline_start(cols, story)
    svgs = {
        "timeline": timeline_svg(cols, hosts, story, t0),
        "throughput": plots.throughput_svg(cols, hosts, t0),  # the timeline's time axis
        "durations": plots.durations_svg(cols, hosts),
    }
    if any(row.declared is not None for row in capacity):
        svgs["capacity"] = plots.capacity_svg(capacity)
    if table.values:
        svgs["results"] = results_svg(table.values)
    return svgs


def _mode(cols: Columns, story: Story) -> str:
    if len(cols.job_id) > GANTT_MAX_ROWS:
        return (
            f"{len(cols.job_id):,} jobs are too many to draw one by one (more than"
            f" {GANTT_MAX_ROWS:,}): each line counts a host's jobs finished over time; the"
            " runs are listed under The campaign."
        )
    text = (
        "Each bar is a job, coloured by status, on the worker lane it ran in (lanes are"
        " rebuilt from the start and end times; a job that starts within 10 microseconds, or"
        " a thousandth of its length, of another's end follows it on its lane)."
    )
    if story.blocks:
        text += (
            " Behind the bars, each run of a host's folders is shaded and labelled: original"
            " (its share's first run), resumed (a later run of the same folder), rescue (a"
            " run of `run --rescue`)."
        )
    if story.pauses:
        text += " Hatched: the host was paused (`pause`, or its owner's policy)."
    return text


def _write_atomically(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
