"""Write the report's HTML: one file with its style and pictures inside it.

Pure text assembly: every figure arrives as numbers or SVG text; every piece
of user data (machine names, error messages, paths) is escaped. The page
loads nothing: its Content-Security-Policy forbids any fetch, so it reads the
same on an offline laptop.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from splitter.report.stats import Capacity, FailureLine, HostStats, SlowJob

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
th { background: #f3f3f3; } code { font-size: 0.95em; }
.bad { color: #b00020; font-weight: bold; } .good { color: #1b7a1b; font-weight: bold; }
figure { margin: 0.5em 0; } svg { max-width: 100%; height: auto; }
"""
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


@dataclass(frozen=True)
class Page:
    """Everything the page shows, drawn and counted."""

    title: str
    report: Mapping[str, Any]
    hosts: Sequence[HostStats]
    capacity: Sequence[Capacity]
    failures: Sequence[FailureLine]
    slowest: Sequence[SlowJob]
    svgs: Mapping[str, str]  # timeline, throughput, capacity, durations (absent: not drawn)
    timeline_note: str
    versions: Mapping[str, str]
    notes: Sequence[str]


def render_page(page: Page) -> str:
    """The whole HTML document."""
    parts = [
        f"<h1>{_e(page.title)}</h1>",
        _summary(page.report),
        *(f'<p class="note">{_e(note)}</p>' for note in page.notes),
        _section("Machines", _machines_table(page.hosts)),
        _section("Timeline", _figure(page.svgs, "timeline") + _note(page.timeline_note)),
        _section("Throughput per host", _figure(page.svgs, "throughput")),
        _section("Declared vs observed capacity", _capacity(page)),
        _section("Job durations", _figure(page.svgs, "durations") + _durations(page.hosts)),
        _section("Failures", _failures(page.failures)),
        _section("Slowest jobs", _slowest(page.slowest)),
        _versions(page.versions),
    ]
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(page.title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def _summary(report: Mapping[str, Any]) -> str:
    failed: Mapping[str, int] = report.get("failed", {})
    missing: list[int] = report.get("missing", [])
    total_failed = sum(failed.values())
    by_status = ", ".join(f"{n:,} {status}" for status, n in failed.items() if n)
    words = (
        f"{report.get('expected', 0):,} jobs expected: "
        f'<span class="good">{report.get("ok", 0):,} ok</span>, '
        f'<span class="{"bad" if total_failed else "good"}">{total_failed:,} failed</span>'
        f"{f' ({_e(by_status)})' if by_status else ''}, "
        f'<span class="{"bad" if missing else "good"}">{len(missing):,} missing</span>.'
    )
    lines = [f'<p class="lead">{words}</p>']
    if missing:
        shown = ", ".join(map(str, missing[:20]))
        more = f" and {len(missing) - 20:,} more" if len(missing) > 20 else ""
        lines.append(f"<p>Missing job ids: {shown}{more}.</p>")
    digest = report.get("digest_grouped") or report.get("digest", "")
    lines.append(f"<p>Plan digest <code>{_e(str(digest))}</code>.</p>")
    return "\n".join(lines)


def _machines_table(hosts: Sequence[HostStats]) -> str:
    rows = [
        [_e(h.machine), _n(h.rows), _n(h.ok), _n(sum(h.failed.values())),
         _s(h.span_seconds), _s(h.busy_seconds),
         f"{h.busy_seconds / h.span_seconds:.2f}" if h.span_seconds > 0 else "-"]
        for h in hosts
    ]  # fmt: skip
    head = ["machine", "jobs", "ok", "failed", "span", "busy (summed durations)", "busy / span"]
    return _table(head, rows, {1, 2, 3, 4, 5, 6})


def _capacity(page: Page) -> str:
    rows = [
        [_e(c.machine), "-" if c.declared is None else f"{c.declared:,.3g}",
         "-" if c.observed is None else f"{c.observed:,.3g}", _e(c.source)]
        for c in page.capacity
    ]  # fmt: skip
    table = _table(["machine", "declared (perf x cores)", "observed jobs/s", "from"], rows, {1, 2})
    if "capacity" not in page.svgs:
        note = _note(
            "The manifests carry no declared capacity (perf, cores), so only the observed"
            " rate, from the merged rows, is shown."
        )
        return note + table
    return _figure(page.svgs, "capacity") + table


def _durations(hosts: Sequence[HostStats]) -> str:
    rows = [[_e(h.machine), _s(h.median), _s(h.p90), _s(h.longest)] for h in hosts]
    return _table(["machine", "median", "90th percentile", "longest"], rows, {1, 2, 3})


def _failures(lines: Sequence[FailureLine]) -> str:
    if not lines:
        return '<p class="good">No job failed.</p>'
    rows = [
        [_n(line.count), _e(", ".join(line.statuses)), f"<code>{_e(line.message)}</code>",
         _e(", ".join(map(str, line.first_ids)))]
        for line in lines
    ]  # fmt: skip
    return _table(["jobs", "status", "error message", "first job ids"], rows, {0})


def _slowest(jobs: Sequence[SlowJob]) -> str:
    rows = [[str(j.job_id), _e(j.machine), _e(j.status), _s(j.duration)] for j in jobs]
    return _table(["job id", "machine", "status", "duration"], rows, {0, 3})


def _versions(versions: Mapping[str, str]) -> str:
    made = ", ".join(f"{_e(name)} {_e(version)}" for name, version in versions.items())
    return f'<p class="note">Made by {made}.</p>'


def _section(title: str, content: str) -> str:
    return f"<section>\n<h2>{_e(title)}</h2>\n{content}\n</section>"


def _figure(svgs: Mapping[str, str], name: str) -> str:
    if name not in svgs:
        return _note("Nothing to draw: the merged results hold no rows.")
    return f'<figure class="{name}">{svgs[name]}</figure>'


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>' if text else ""


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    """A table of escaped `head` names and ready cells; `numeric` columns align right."""
    header = "".join(f"<th>{_e(name)}</th>" for name in head)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>\n"
        for row in rows
    )
    return f"<table><thead><tr>{header}</tr></thead>\n<tbody>\n{body}</tbody></table>"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _n(value: int) -> str:
    return f"{value:,}"


def _s(seconds: float) -> str:
    """A duration in words a person reads at a glance: 0.0123 s, 4.2 s, 3 min 5 s, 2 h 10 min."""
    if seconds < 60:
        return f"{seconds:.3g} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"
