"""The report's HTML: escaped user text, the summary in words, nothing loaded from outside."""

from __future__ import annotations

from pathlib import Path

from splitter.report.failures import FailureKind, FailureLine
from splitter.report.page import Page, render_page
from splitter.report.schema import parse_report
from splitter.report.stats import HostStats, SlowJob
from splitter.report.story import Story
from splitter.report.usage import Capacity, Usage

REPORT = parse_report(
    {"digest_grouped": "ab12 cd34", "expected": 12, "ok": 8,
     "failed": {"error": 2, "crashed": 1, "timeout": 0}, "missing": [10]},
    Path("M/report.json"),
)  # fmt: skip
HOST = HostStats(
    machine="<b>lab</b>", code=0, rows=11, ok=8, failed={"error": 2, "crashed": 1, "timeout": 0},
    first_start=0.0, last_end=100.0, busy_seconds=200.0, median=1.0, p90=2.0, longest=75.0,
)  # fmt: skip


def page(**changes: object) -> str:
    fields: dict[str, object] = {
        "title": "splitter report: M", "report": REPORT, "hosts": [HOST],
        "usage": [Usage("<b>lab</b>", 100.0, 200.0, 4.0, 11, "manifest.json")],
        "capacity": [Capacity("<b>lab</b>", 8.0, 2.5, "manifest.json")],
        "story": Story((), (), (), (), ()), "records": [],
        "failures": [FailureLine("ValueError: x < N & y", "ValueError: x < 1 & y", "ValueError",
                                 2, ("error",), (3, 4))],
        "kinds": [FailureKind("ValueError", 2, 1)],
        "slowest": [SlowJob(7, "<b>lab</b>", "ok", 75.0, 0.0)], "details": {7: "a=<1>"},
        "values": {}, "stride": 1,
        "svgs": {"capacity": "<svg></svg>"}, "timeline_note": "",
        "versions": {"splitter": "0.1.0", "matplotlib": "3.9.0"}, "notes": [],
    }  # fmt: skip
    fields.update(changes)
    return render_page(Page(**fields))  # type: ignore[arg-type]


def test_the_summary_says_the_counts_in_words() -> None:
    text = page()
    assert (
        '12 jobs expected: <span class="good">8 ok</span>, <span class="bad">3 failed</span>'
        ' (2 error, 1 crashed), <span class="bad">1 missing</span>.'
    ) in text
    assert "<p>Missing job ids: 10.</p>" in text
    assert "<p>Plan digest <code>ab12 cd34</code>.</p>" in text


def test_user_text_is_escaped() -> None:
    text = page()
    assert "<b>lab</b>" not in text
    assert "&lt;b&gt;lab&lt;/b&gt;" in text
    assert "<code>ValueError: x &lt; 1 &amp; y</code>" in text
    assert "<code>a=&lt;1&gt;</code>" in text


def test_the_page_forbids_every_fetch() -> None:
    assert (
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';'
        " style-src 'unsafe-inline'; img-src data:\">"
    ) in page()


def test_a_missing_picture_says_why() -> None:
    assert page().count("Nothing to draw: the merged results hold no rows.") == 3
    assert "No result column holds numbers to draw." in page()


def test_the_versions_are_named() -> None:
    assert '<p class="note">Made by splitter 0.1.0, matplotlib 3.9.0.</p>' in page()


def test_long_durations_read_in_minutes_and_hours() -> None:
    text = page(hosts=[HOST], slowest=[SlowJob(7, "a", "ok", 7500.0, 0.0)])
    assert '<td class="n">1 min 40 s</td>' in text  # the run time
    assert '<td class="n">2 h 5 min</td>' in text


def test_no_failure_says_so() -> None:
    assert '<p class="good">No job failed.</p>' in page(failures=[])


def test_utilisation_is_busy_over_run_time_times_workers() -> None:
    # 200 busy seconds over 100 s of 4 workers.
    assert '<td class="n">50%</td>' in page()
    assert "Utilisation is busy / (run time x workers)" in page()


def test_the_head_carries_the_marker_of_a_splitter_report() -> None:
    assert (
        page().split("</head>")[0].count('<meta name="generator" content="splitter report">') == 1
    )


def test_the_failures_are_grouped_by_type_and_by_pattern() -> None:
    text = page()
    assert '<td><code>ValueError</code></td><td class="n">2</td><td class="n">1</td>' in text
    assert "<td><code>ValueError: x &lt; N &amp; y</code></td>" in text
