"""The page's account of the rows: result values, failures by type and pattern, the slowest.

Pure text assembly; column names, messages and job parameters are escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from splitter.report.failures import FailureKind, FailureLine
from splitter.report.html import e, figure, n, note, s, table
from splitter.report.resultplots import DRAWN_COLUMNS
from splitter.report.stats import SlowJob

__all__ = ["failures_html", "results_html", "slowest_html"]


def results_html(
    values: Mapping[str, npt.NDArray[np.float64]], stride: int, svgs: Mapping[str, str]
) -> str:
    """Histograms of the first numeric result columns, and a table of their spread."""
    if not values:
        return note("No result column holds numbers to draw.")
    sampled = "every row" if stride == 1 else f"every {stride:,}th row (a sample)"
    rows = []
    for name, column in values.items():
        finite = column[np.isfinite(column)]
        low, middle, high = np.quantile(finite, [0.0, 0.5, 1.0]).tolist()
        rows.append([f"<code>{e(name)}</code>", n(len(finite)), n(len(column) - len(finite)),
                     f"{low:.4g}", f"{middle:.4g}", f"{high:.4g}"])  # fmt: skip
    head = ["column", "numbers", "empty or not finite", "least", "median", "greatest"]
    caption = note(
        f"The first {DRAWN_COLUMNS} numeric result columns are drawn; the figures are of"
        f" {sampled}."
    )
    return figure(svgs, "results") + caption + table(head, rows, {1, 2, 3, 4, 5})


def failures_html(
    kinds: Sequence[FailureKind], lines: Sequence[FailureLine], details: Mapping[int, str]
) -> str:
    """The failures by exception type, then by message with its numbers masked as N."""
    if not lines:
        return '<p class="good">No job failed.</p>'
    by_kind = table(
        ["exception type or status", "jobs", "messages"],
        [[f"<code>{e(kind.kind)}</code>", n(kind.count), n(kind.patterns)] for kind in kinds],
        {1, 2},
    )
    rows = [
        [n(line.count), e(", ".join(line.statuses)), f"<code>{e(line.pattern)}</code>",
         f"<code>{e(line.example)}</code>", e(", ".join(map(str, line.first_ids))),
         _parameters(details.get(line.first_ids[0], "") if line.first_ids else "")]
        for line in lines
    ]  # fmt: skip
    head = ["jobs", "status", "message (numbers as N)", "first message", "first job ids",
            "parameters of the first"]  # fmt: skip
    return by_kind + table(head, rows, {0})


def slowest_html(jobs: Sequence[SlowJob], details: Mapping[int, str]) -> str:
    """The slowest jobs with their parameters."""
    rows = [
        [str(j.job_id), e(j.machine), e(j.status), s(j.duration),
         _parameters(details.get(j.job_id, ""))]
        for j in jobs
    ]  # fmt: skip
    return table(["job id", "machine", "status", "duration", "parameters"], rows, {0, 3})


def _parameters(text: str) -> str:
    return f"<code>{e(text)}</code>" if text else "-"
