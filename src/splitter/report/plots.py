"""Draw the report's pictures with matplotlib (Agg), each returned as SVG text.

matplotlib is the optional `report` extra: `require_matplotlib` imports it
(only the `report` command does) or says how to install it. Figures are
`matplotlib.figure.Figure` objects, never pyplot's global state.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from splitter.errors import UsageError
from splitter.report.read import Columns
from splitter.report.stats import HostStats, duration_bins, time_unit
from splitter.report.usage import Capacity

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "STATUS_COLOURS",
    "axes_figure",
    "capacity_svg",
    "durations_svg",
    "label",
    "new_figure",
    "require_matplotlib",
    "svg",
    "throughput_svg",
]

STATUS_COLOURS = {"ok": "#4c78a8", "error": "#e45756", "crashed": "#b279a2", "timeout": "#f58518"}
_WIDTH = 9.0  # inches; at 72 px each the page's column is about 650 px
_LABEL_CHARS = 32


def require_matplotlib() -> str:
    """Import matplotlib on the Agg backend and return its version, or raise UsageError."""
    try:
        import matplotlib
    except ImportError:
        if getattr(sys, "frozen", False):
            raise UsageError(
                "the report needs matplotlib, which binaries leave out (it would double their"
                " size and start-up); copy the merged folder to a machine with `pip install"
                " 'splitter[report]'` and run `splitter report` there"
            ) from None
        raise UsageError(
            "the report needs matplotlib, which is not installed; install it with"
            " `pip install 'splitter[report]'` (or `pip install matplotlib`)"
        ) from None
    matplotlib.use("Agg")
    # Text stays text (small, searchable); the page names fonts every system has.
    matplotlib.rcParams["svg.fonttype"] = "none"
    return str(matplotlib.__version__)


def throughput_svg(cols: Columns, hosts: Sequence[HostStats], t0: float) -> str:
    """Jobs finished per second by each host, in time bins over the campaign."""
    span = max(max(host.last_end for host in hosts) - t0, 1e-9)
    scale, unit = time_unit(span)
    count = int(np.clip(len(cols.job_id) // 5, 10, 100))
    edges = np.linspace(t0, t0 + span, count + 1)
    width = edges[1] - edges[0]
    figure, axes = axes_figure(3.0)
    end = cols.end
    for host in hosts:
        counts, _ = np.histogram(end[cols.machine == host.code], bins=edges)
        axes.stairs(counts / width, (edges - t0) / scale, label=label(host.machine), linewidth=1.6)
    axes.set_xlabel(f"time since the first start ({unit}); bins of {width:.3g} s")
    axes.set_ylabel("jobs finished per second")
    axes.set_ylim(bottom=0)
    axes.legend(loc="best", frameon=False)
    return svg(figure)


def capacity_svg(rows: Sequence[Capacity]) -> str:
    """Each machine's share of the declared capacity beside its share of the observed rate."""
    declared = np.array([row.declared or 0.0 for row in rows])
    observed = np.array([row.observed or 0.0 for row in rows])
    figure, axes = axes_figure(2.8)
    places = np.arange(len(rows))
    for values, offset, name in ((declared, -0.2, "declared (perf x cores)"),
                                 (observed, 0.2, "observed (jobs/s)")):  # fmt: skip
        shares = 100 * values / values.sum() if values.sum() > 0 else values
        axes.bar(places + offset, shares, width=0.4, label=name)
    axes.set_xticks(places, [label(row.machine) for row in rows])
    axes.set_ylabel("share of the total (%)")
    axes.legend(loc="best", frameon=False)
    return svg(figure)


def durations_svg(cols: Columns, hosts: Sequence[HostStats]) -> str:
    """The distribution of job durations, overall (bars) and per host (lines)."""
    edges, log = duration_bins(cols.duration)
    figure = new_figure(3.0)
    overall, per_host = figure.subplots(1, 2, sharex=True)
    clipped = np.clip(cols.duration, edges[0], edges[-1])
    counts, _ = np.histogram(clipped, bins=edges)
    overall.stairs(counts, edges, fill=True, color=STATUS_COLOURS["ok"])
    overall.set_title("all hosts", fontsize=10)
    for host in hosts:
        counts, _ = np.histogram(clipped[cols.machine == host.code], bins=edges)
        per_host.stairs(counts, edges, label=label(host.machine), linewidth=1.6)
    per_host.set_title("per host", fontsize=10)
    per_host.legend(loc="best", frameon=False)
    for axes in (overall, per_host):
        if log:
            axes.set_xscale("log")
        axes.set_xlabel("job duration (s)" + (", log scale" if log else ""))
    overall.set_ylabel("jobs")
    for axes in (overall, per_host):
        axes.ticklabel_format(axis="y", style="plain", useOffset=False)
    return svg(figure)


def label(text: str) -> str:
    """User text as matplotlib shows it literally: no mathtext from `$`, no legend-hiding `_`.

    Cut to `_LABEL_CHARS`: a long name would squeeze the axes to nothing (the page's
    tables name it whole).
    """
    if len(text) > _LABEL_CHARS:
        text = text[: _LABEL_CHARS - 1] + "\u2026"
    text = text.replace("$", r"\$")
    return "\u200b" + text if text.startswith("_") else text


def new_figure(height: float) -> Figure:
    """A figure of the page's width, laid out by matplotlib's constrained layout."""
    from matplotlib.figure import Figure

    return Figure(figsize=(_WIDTH, height), layout="constrained")


def axes_figure(height: float) -> tuple[Figure, Axes]:
    """A figure of one gridded axes."""
    figure = new_figure(height)
    axes = figure.subplots()
    axes.grid(True, alpha=0.3)
    return figure, axes


def svg(figure: Figure) -> str:
    """The figure as inline SVG text."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: no XML declaration or doctype
