"""Draw the results themselves: a histogram of each of the first numeric result columns.

    ValueSample's columns {name: values} --> one small histogram per column, side by side

The values are the sample `splitter.report.sample` kept (every k-th row);
empty cells, NaN and infinities are not drawn (the page counts them).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from splitter.report.plots import STATUS_COLOURS, label, new_figure, svg

__all__ = ["DRAWN_COLUMNS", "results_svg"]

DRAWN_COLUMNS = 4
_BINS = 40


def results_svg(values: Mapping[str, npt.NDArray[np.float64]]) -> str:
    """Histograms of the first `DRAWN_COLUMNS` columns of `values` that hold a finite number."""
    drawn = {
        name: column[np.isfinite(column)] for name, column in list(values.items())[:DRAWN_COLUMNS]
    }
    figure = new_figure(2.6)
    grid = figure.subplots(1, len(drawn), squeeze=False)
    for (name, column), axes in zip(drawn.items(), grid[0], strict=True):
        low, high = float(column.min()), float(column.max())
        bins = _BINS if high > low else 1
        axes.hist(column, bins=bins, color=STATUS_COLOURS["ok"])
        axes.set_title(label(name), fontsize=10)
        axes.grid(True, alpha=0.3)
        axes.ticklabel_format(axis="y", style="plain", useOffset=False)
    grid[0, 0].set_ylabel("jobs")
    return svg(figure)
