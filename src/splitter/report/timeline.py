"""Draw the campaign's timeline: each host's jobs on worker lanes, its runs and pauses behind.

    Columns + HostStats --lanes--> one bar per job, coloured by status
    Story's RunBlocks --> shaded spans labelled original / resumed / rescue
    Story's pauses --> hatched spans, "paused"

Above `GANTT_MAX_ROWS` jobs, one line per host counts its jobs finished over
time instead (the runs are then in the page's table only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from splitter.report.plots import STATUS_COLOURS, axes_figure, label, new_figure, svg
from splitter.report.read import Columns
from splitter.report.stats import GANTT_MAX_ROWS, HostStats, lanes, time_unit
from splitter.report.story import Story
from splitter.store.results import STATUSES

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["RUN_COLOURS", "timeline_start", "timeline_svg"]

RUN_COLOURS = {"original": "#9ecae9", "resumed": "#ffbf79", "rescue": "#8cd17d"}
_LINE_POINTS = 400  # samples per finished-over-time line


def timeline_start(cols: Columns, story: Story) -> float:
    """The timeline's zero: the first job's start, or an earlier run's."""
    starts = [float(cols.start.min())] if len(cols.start) else []
    return min(starts + [block.start for block in story.blocks])


def timeline_svg(cols: Columns, hosts: Sequence[HostStats], story: Story, t0: float) -> str:
    """A Gantt of each host's worker lanes, or finished-over-time lines for many rows."""
    ends = [host.last_end for host in hosts] + [block.end for block in story.blocks]
    span = max(max(ends) - t0, 1e-9)
    if len(cols.job_id) <= GANTT_MAX_ROWS:
        return _gantt(cols, hosts, story, t0, span)
    scale, unit = time_unit(span)
    figure, axes = axes_figure(3.2)
    end = cols.end
    grid = np.linspace(t0, t0 + span, _LINE_POINTS)
    for host in hosts:
        finished = np.sort(end[cols.machine == host.code])
        counts = np.searchsorted(finished, grid, side="right")
        axes.plot((grid - t0) / scale, counts, label=label(host.machine), linewidth=1.6)
    axes.set_xlabel(f"time since the first start ({unit})")
    axes.set_ylabel("jobs finished")
    axes.ticklabel_format(axis="y", style="plain", useOffset=False)  # 1,000,000, not "1e6"
    axes.legend(loc="best", frameon=False)
    return svg(figure)


def _gantt(cols: Columns, hosts: Sequence[HostStats], story: Story, t0: float, span: float) -> str:
    scale, unit = time_unit(span)
    per_host = []
    for host in hosts:
        mine = np.flatnonzero(cols.machine == host.code)
        per_host.append((mine, lanes(cols.start[mine], cols.end[mine])))
    heights = [int(lane.max()) + 1 for _, lane in per_host]
    figure = new_figure(1.0 + 0.28 * sum(heights) + 0.35 * len(hosts))
    grid = figure.subplots(len(hosts), 1, sharex=True, squeeze=False,
                           gridspec_kw={"height_ratios": heights})  # fmt: skip
    for host, (mine, lane), axes in zip(hosts, per_host, grid[:, 0], strict=True):
        _backdrop(axes, host, story, t0, scale)
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
        axes.set_ylabel(label(host.machine), rotation=0, ha="right", va="center")
        axes.invert_yaxis()
    handles: dict[str, Any] = {}
    for axes in grid[:, 0]:
        for handle, name in zip(*axes.get_legend_handles_labels(), strict=True):
            handles.setdefault(name, handle)
    figure.legend(
        handles.values(), handles.keys(), loc="outside upper right", ncols=4, frameon=False
    )
    grid[-1, 0].set_xlabel(f"time since the first start ({unit}); one row per worker")
    return svg(figure)


def _backdrop(axes: Axes, host: HostStats, story: Story, t0: float, scale: float) -> None:
    """The host's runs as shaded spans, labelled by kind, and its pauses hatched over them."""
    from matplotlib.transforms import blended_transform_factory

    top = blended_transform_factory(axes.transData, axes.transAxes)
    for block in story.blocks:
        if block.machine != host.machine:
            continue
        left, right = (block.start - t0) / scale, (block.end - t0) / scale
        axes.axvspan(left, right, color=RUN_COLOURS[block.kind], alpha=0.35, linewidth=0,
                     zorder=0, label=f"{block.kind} run")  # fmt: skip
        axes.text(left, 0.97, f" {block.kind}", transform=top, va="top", ha="left",
                  fontsize=7, color="#333", zorder=3)  # fmt: skip
    for machine, pause in story.pauses:
        if machine != host.machine:
            continue
        end = host.last_end if pause.end is None else pause.end
        axes.axvspan((pause.start - t0) / scale, (max(end, pause.start) - t0) / scale,
                     facecolor="none", hatch="///", edgecolor="#555555", linewidth=0,
                     zorder=2, label="paused")  # fmt: skip
