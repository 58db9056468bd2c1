"""Draw the report's pictures with matplotlib (Agg), each returned as SVG text.

matplotlib is the optional `report` extra: `require_matplotlib` imports it
(only the `report` command does) or says how to install it. Figures are
`matplotlib.figure.Figure` objects, never pyplot's global state.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from splitter.errors import UsageError
from splitter.report.read import Columns
from splitter.report.stats import (
    GANTT_MAX_ROWS,
    Capacity,
    HostStats,
    duration_bins,
    lanes,
    time_unit,
)
from splitter.store.results import STATUSES

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "capacity_svg",
    "durations_svg",
    "require_matplotlib",
    "throughput_svg",
    "timeline_svg",
]

STATUS_COLOURS = {"ok": "#4c78a8", "error": "#e45756", "crashed": "#b279a2", "timeout": "#f58518"}
_WIDTH = 9.0  # inches; at 72 px each the page's column is about 650 px
_LINE_POINTS = 400  # samples per finished-over-time line


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


def timeline_svg(cols: Columns, hosts: Sequence[HostStats], t0: float) -> str:
    """A Gantt of each host's worker lanes, or finished-over-time lines for many rows."""
    if len(cols.job_id) <= GANTT_MAX_ROWS:
        return _gantt(cols, hosts, t0)
    span = max(host.last_end for host in hosts) - t0
    scale, unit = time_unit(span)
    figure, axes = _figure(3.2)
    end = cols.end
    grid = np.linspace(t0, t0 + span, _LINE_POINTS)
    for host in hosts:
        finished = np.sort(end[cols.machine == host.code])
        counts = np.searchsorted(finished, grid, side="right")
        axes.plot((grid - t0) / scale, counts, label=host.machine, linewidth=1.6)
    axes.set_xlabel(f"time since the first start ({unit})")
    axes.set_ylabel("jobs finished")
    axes.ticklabel_format(axis="y", style="plain", useOffset=False)  # 1,000,000, not "1e6"
    axes.legend(loc="best", frameon=False)
    return _svg(figure)


def _gantt(cols: Columns, hosts: Sequence[HostStats], t0: float) -> str:
    span = max(host.last_end for host in hosts) - t0
    scale, unit = time_unit(span)
    per_host = []
    for host in hosts:
        mine = np.flatnonzero(cols.machine == host.code)
        per_host.append((mine, lanes(cols.start[mine], cols.end[mine])))
    heights = [int(lane.max()) + 1 for _, lane in per_host]
    figure = _new_figure(1.0 + 0.28 * sum(heights) + 0.35 * len(hosts))
    grid = figure.subplots(len(hosts), 1, sharex=True, squeeze=False,
                           gridspec_kw={"height_ratios": heights})  # fmt: skip
    for host, (mine, lane), axes in zip(hosts, per_host, grid[:, 0], strict=True):
        for code, status in enumerate(STATUSES):
            picked = cols.status[mine] == code
            if picked.any():
                starts = (cols.start[mine][picked] - t0) / scale
                # A bar is at least 1/300 of the axis wide: a job that failed at once still shows.
                widths = np.maximum(cols.duration[mine][picked] / scale, span / scale / 300)
                colour = STATUS_COLOURS[status]
                axes.barh(lane[picked], widths, left=starts, height=0.8, label=status,
                          color=colour, edgecolor="white", linewidth=0.4)  # fmt: skip
        axes.set_ylim(-0.6, int(lane.max()) + 0.6)
        axes.set_yticks(range(int(lane.max()) + 1))
        axes.set_ylabel(host.machine, rotation=0, ha="right", va="center")
        axes.invert_yaxis()
    handles: dict[str, Any] = {}
    for axes in grid[:, 0]:
        for handle, label in zip(*axes.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    figure.legend(
        handles.values(), handles.keys(), loc="outside upper right", ncols=4, frameon=False
    )
    grid[-1, 0].set_xlabel(f"time since the first start ({unit}); one row per worker")
    return _svg(figure)


def throughput_svg(cols: Columns, hosts: Sequence[HostStats], t0: float) -> str:
    """Jobs finished per second by each host, in time bins over the campaign."""
    span = max(max(host.last_end for host in hosts) - t0, 1e-9)
    scale, unit = time_unit(span)
    count = int(np.clip(len(cols.job_id) // 5, 10, 100))
    edges = np.linspace(t0, t0 + span, count + 1)
    width = edges[1] - edges[0]
    figure, axes = _figure(3.0)
    end = cols.end
    for host in hosts:
        counts, _ = np.histogram(end[cols.machine == host.code], bins=edges)
        axes.stairs(counts / width, (edges - t0) / scale, label=host.machine, linewidth=1.6)
    axes.set_xlabel(f"time since the first start ({unit}); bins of {width:.3g} s")
    axes.set_ylabel("jobs finished per second")
    axes.set_ylim(bottom=0)
    axes.legend(loc="best", frameon=False)
    return _svg(figure)


def capacity_svg(rows: Sequence[Capacity]) -> str:
    """Each machine's share of the declared capacity beside its share of the observed rate."""
    declared = np.array([row.declared or 0.0 for row in rows])
    observed = np.array([row.observed or 0.0 for row in rows])
    figure, axes = _figure(2.8)
    places = np.arange(len(rows))
    for values, offset, label in ((declared, -0.2, "declared (perf x cores)"),
                                  (observed, 0.2, "observed (jobs/s)")):  # fmt: skip
        shares = 100 * values / values.sum() if values.sum() > 0 else values
        axes.bar(places + offset, shares, width=0.4, label=label)
    axes.set_xticks(places, [row.machine for row in rows])
    axes.set_ylabel("share of the total (%)")
    axes.legend(loc="best", frameon=False)
    return _svg(figure)


def durations_svg(cols: Columns, hosts: Sequence[HostStats]) -> str:
    """The distribution of job durations, overall (bars) and per host (lines)."""
    edges, log = duration_bins(cols.duration)
    figure = _new_figure(3.0)
    overall, per_host = figure.subplots(1, 2, sharex=True)
    clipped = np.clip(cols.duration, edges[0], edges[-1])
    counts, _ = np.histogram(clipped, bins=edges)
    overall.stairs(counts, edges, fill=True, color=STATUS_COLOURS["ok"])
    overall.set_title("all hosts", fontsize=10)
    for host in hosts:
        counts, _ = np.histogram(clipped[cols.machine == host.code], bins=edges)
        per_host.stairs(counts, edges, label=host.machine, linewidth=1.6)
    per_host.set_title("per host", fontsize=10)
    per_host.legend(loc="best", frameon=False)
    for axes in (overall, per_host):
        if log:
            axes.set_xscale("log")
        axes.set_xlabel("job duration (s)" + (", log scale" if log else ""))
    overall.set_ylabel("jobs")
    for axes in (overall, per_host):
        axes.ticklabel_format(axis="y", style="plain", useOffset=False)
    return _svg(figure)


def _new_figure(height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(_WIDTH, height), layout="constrained")


def _figure(height: float) -> tuple[Figure, Axes]:
    figure = _new_figure(height)
    axes = figure.subplots()
    axes.grid(True, alpha=0.3)
    return figure, axes


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: no XML declaration or doctype
