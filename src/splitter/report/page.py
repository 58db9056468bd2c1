"""Write the report's HTML: one file with its style and pictures inside it.

Pure text assembly: every figure arrives as numbers or SVG text; every piece
of user data (machine names, error messages, paths, versions) was
type-checked when read and is escaped here. The page loads nothing: its
Content-Security-Policy forbids any fetch, so it reads the same on an
offline laptop. Its head carries the marker by which a later report knows
the file as one it may replace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from splitter.report.failures import FailureKind, FailureLine
from splitter.report.hosts import HostRecord
from splitter.report.html import e, figure, ids, n, note, s, section, table
from splitter.report.resultspage import failures_html, results_html, slowest_html
from splitter.report.schema import MergeReport
from splitter.report.sources import MARKER
from splitter.report.stats import HostStats, SlowJob
from splitter.report.story import Story
from splitter.report.storypage import story_html
from splitter.report.usage import Capacity, Usage

__all__ = ["Page", "render_page"]

_STYLE = """
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; margin: 2em auto;
       max-width: 960px; color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.6em;
     border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
p.lead { font-size: 1.1em; } .note { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; } code { font-size: 0.95em; overflow-wrap: anywhere; }
.bad { color: #b00020; font-weight: bold; } .good { color: #1b7a1b; font-weight: bold; }
figure { margin: 0.5em 0; } svg { max-width: 100%; height: auto; }
"""
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_UTILISATION = (
    "Utilisation is busy / (run time x workers): the summed job durations over the time its"
    " workers could have been running jobs; 100% means every worker ran a job all the time."
    " Run time adds up the host's runs (each run's wall time as the runner measured it, the"
    " figure of its console's last line and of report.json's wall_seconds), leaving out the"
    " time between a run and its resume."
)
_ESTIMATED = (
    " Where a host's manifest is not at hand, its run time is the time a job was running and"
    " its workers the most jobs that ran at once, both read from the merged rows."
)


@dataclass(frozen=True)
class Page:
    """Everything the page shows, drawn and counted."""

    title: str
    report: MergeReport
    hosts: Sequence[HostStats]
    usage: Sequence[Usage]
    capacity: Sequence[Capacity]
    story: Story
    records: Sequence[HostRecord]
    failures: Sequence[FailureLine]
    kinds: Sequence[FailureKind]
    slowest: Sequence[SlowJob]
    details: Mapping[int, str]
    values: Mapping[str, npt.NDArray[np.float64]]
    stride: int
    svgs: Mapping[str, str]  # timeline, throughput, capacity, durations, results
    timeline_note: str
    versions: Mapping[str, str]
    notes: Sequence[str]


def render_page(page: Page) -> str:
    """The whole HTML document."""
    parts = [
        f"<h1>{e(page.title)}</h1>",
        _summary(page.report),
        *(note(text) for text in page.notes),
        section("campaign", "The campaign", story_html(page.story, page.report)),
        section("machines", "Machines", _machines(page.hosts, page.usage)),
        section("timeline", "Timeline", figure(page.svgs, "timeline") + note(page.timeline_note)),
        section("throughput", "Throughput per host", figure(page.svgs, "throughput")),
        section("capacity", "Declared vs observed capacity", _capacity(page)),
        section("durations", "Job durations", _durations(page)),
        section("results", "Results", results_html(page.values, page.stride, page.svgs)),
        section("failures", "Failures", failures_html(page.kinds, page.failures, page.details)),
        section("slowest", "Slowest jobs", slowest_html(page.slowest, page.details)),
        section("versions", "Versions", _versions(page.versions, page.records)),
    ]
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n{MARKER}\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(page.title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def _summary(report: MergeReport) -> str:
    total_failed = sum(report.failed.values())
    by_status = ", ".join(f"{k:,} {status}" for status, k in report.failed.items() if k)
    missing = report.missing
    words = (
        f"{report.expected:,} jobs expected: "
        f'<span class="good">{report.ok:,} ok</span>, '
        f'<span class="{"bad" if total_failed else "good"}">{total_failed:,} failed</span>'
        f"{f' ({e(by_status)})' if by_status else ''}, "
        f'<span class="{"bad" if missing else "good"}">{len(missing):,} missing</span>.'
    )
    lines = [f'<p class="lead">{words}</p>']
    if missing:
        lines.append(f"<p>Missing job ids: {ids(missing)}.</p>")
    if report.duplicates:
        rows = (
            "1 duplicate row"
            if report.duplicates == 1
            else f"{n(report.duplicates)} duplicate rows"
        )
        lines.append(
            f"<p>{rows} resolved: where a job has several rows, ok beats a failure and the"
            " latest attempt wins.</p>"
        )
    for file, problem in report.damaged:
        lines.append(f'<p class="bad">Damaged input <code>{e(file)}</code>: {e(problem)}.</p>')
    lines.append(f"<p>Plan digest <code>{e(report.digest)}</code>.</p>")
    return "\n".join(lines)


def _machines(hosts: Sequence[HostStats], usage: Sequence[Usage]) -> str:
    rows = [
        [e(host.machine), n(host.rows), n(host.ok), n(sum(host.failed.values())),
         s(used.run_seconds), s(used.busy_seconds), f"{used.workers:.3g}",
         _percent(used.utilisation), _rate(used.jobs_per_second), e(used.source)]
        for host, used in zip(hosts, usage, strict=True)
    ]  # fmt: skip
    head = ["machine", "jobs", "ok", "failed", "run time", "busy (summed durations)",
            "workers", "utilisation", "jobs/s", "from"]  # fmt: skip
    estimated = any(used.source == "rows" for used in usage)
    return table(head, rows, set(range(1, 9))) + note(_UTILISATION + (_ESTIMATED * estimated))


def _capacity(page: Page) -> str:
    rows = [
        [e(c.machine), "-" if c.declared is None else f"{c.declared:,.3g}",
         "-" if c.observed is None else f"{c.observed:,.3g}", e(c.source)]
        for c in page.capacity
    ]  # fmt: skip
    head = ["machine", "declared (perf x cores)", "observed jobs/s", "from"]
    result = table(head, rows, {1, 2})
    if "capacity" not in page.svgs:
        return result + note(
            "The manifests carry no declared capacity (perf, cores), so only the observed"
            " rate is shown."
        )
    return figure(page.svgs, "capacity") + result


def _durations(page: Page) -> str:
    rows = [[e(h.machine), s(h.median), s(h.p90), s(h.longest)] for h in page.hosts]
    head = ["machine", "median", "90th percentile", "longest"]
    return figure(page.svgs, "durations") + table(head, rows, {1, 2, 3})


def _versions(versions: Mapping[str, str], records: Sequence[HostRecord]) -> str:
    made = ", ".join(f"{e(name)} {e(version)}" for name, version in versions.items())
    text = f'<p class="note">Made by {made}.</p>'
    names = sorted({name for record in records for name in record.versions})
    if not names:
        return text
    rows = [
        [e(record.machine), e(record.folder), *(e(record.versions.get(k, "-")) for k in names)]
        for record in records
    ]
    head = ["machine", "folder", *names]
    return text + "<p>What each host ran with:</p>" + table(head, rows, set())


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.0f}%"


def _rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:,.3g}"
