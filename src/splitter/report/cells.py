"""Parse the cells of many CSV rows at once with array operations (no quotes allowed).

    bytes of whole rows --plain_cells--> job_id, machine, status, start, duration, error
                        --number_cells--> one column's numbers, for some rows
                        --row_cells--> all cells of one row, as text

A piece of rows without a quote character holds no comma inside a cell, so
every row has exactly `width - 1` commas: their positions, found by NumPy,
are the cell boundaries. Numbers are parsed in bulk by gathering their cells
into one comma-separated text for `np.fromstring`; machines are told apart
by `np.unique` over their padded bytes. Only failed rows' error cells are
sliced one by one. Anything that does not fit returns None, and the caller
reads that piece with `csv`, which names the problem.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from splitter.store.results import STATUSES

__all__ = ["PlainCells", "number_cells", "plain_cells", "row_cells"]

_COMMA, _NEWLINE = ord(","), ord("\n")
_CODE_BY_FIRST_BYTE = np.full(256, 255, dtype=np.uint8)
_CODE_BY_FIRST_BYTE[[ord(status[0]) for status in STATUSES]] = range(len(STATUSES))
_STATUS_LENGTHS = np.array([len(status) for status in STATUSES] + [0] * (256 - len(STATUSES)))
_MAX_NAME = 256  # bytes; a longer machine cell goes the `csv` way


@dataclass(frozen=True)
class PlainCells:
    """The first six cells of a piece's rows; `machine` indexes the distinct `machines`.

    `cuts` holds each row's comma positions, `starts` and `ends` where it
    begins and where its newline is: enough to find any other cell.
    """

    job_id: npt.NDArray[np.int64]
    machines: list[str]
    machine: npt.NDArray[np.intp]
    status: npt.NDArray[np.uint8]
    start: npt.NDArray[np.float64]
    duration: npt.NDArray[np.float64]
    errors: dict[int, str]  # row -> error cell, for the failed rows only
    cuts: npt.NDArray[np.intp]
    starts: npt.NDArray[np.intp]
    ends: npt.NDArray[np.intp]


def plain_cells(data: bytes, width: int) -> PlainCells | None:
    """The cells of `data` (whole rows, each ending in a newline, no quotes), or None."""
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == _NEWLINE)
    commas = np.flatnonzero(buf == _COMMA)
    rows = len(ends)
    if rows == 0 or width < 6 or len(commas) != rows * (width - 1):
        return None
    if (np.searchsorted(commas, ends) != np.arange(1, rows + 1) * (width - 1)).any():
        return None  # the commas are not spread width - 1 to a row
    cuts = commas.reshape(rows, width - 1)
    starts = np.concatenate(([0], ends[:-1] + 1))
    job_id = _numbers(buf, starts, cuts[:, 0], np.int64, rows)
    times = _numbers(buf, cuts[:, 2] + 1, cuts[:, 4], np.float64, 2 * rows)
    status = _statuses(buf, cuts[:, 1] + 1, cuts[:, 2])
    names = _machines(buf, cuts[:, 0] + 1, cuts[:, 1])
    if job_id is None or times is None or status is None or names is None:
        return None
    error_end = cuts[:, 5] if width > 6 else ends  # the error cell is last when no job columns
    errors = {
        row: data[cuts[row, 4] + 1 : error_end[row]].decode("utf-8", "replace")
        for row in np.flatnonzero(status).tolist()
    }
    starts_at, lasting = times[0::2], times[1::2]
    return PlainCells(
        job_id.astype(np.int64, copy=False), names[0], names[1], status,
        starts_at.astype(np.float64, copy=False), lasting.astype(np.float64, copy=False), errors,
        cuts, starts, ends,
    )  # fmt: skip


def number_cells(
    data: bytes, cells: PlainCells, column: int, rows: npt.NDArray[np.intp]
) -> npt.NDArray[np.float64] | None:
    """Column `column` (0-based, past the base cells) of `rows` as numbers, NaN where empty.

    None when a cell that is not empty is no number: the column is not numeric.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    last = column == cells.cuts.shape[1]
    begin = cells.cuts[rows, column - 1] + 1
    stop = cells.ends[rows] if last else cells.cuts[rows, column]
    filled = stop > begin
    values = np.full(len(rows), np.nan)
    if filled.any():
        count = int(filled.sum())
        text = _gather(buf, begin[filled], stop[filled])
        if last:  # each cell ends in its row's newline, not in a comma
            text = text.replace(b"\n", b",")
        parsed = _numbers_of(text.decode("ascii", "replace"), np.float64, count)
        if parsed is None:
            return None
        values[filled] = parsed
    return values


def row_cells(data: bytes, cells: PlainCells, row: int) -> list[str]:
    """Every cell of one row (the piece holds no quote, so no comma is inside a cell)."""
    return data[cells.starts[row] : cells.ends[row]].decode("utf-8", "replace").split(",")


def _gather(
    buf: npt.NDArray[np.uint8], begin: npt.NDArray[np.intp], stop: npt.NDArray[np.intp]
) -> bytes:
    """The bytes [begin, stop] of every row, one after another (stop: the comma after a cell)."""
    lengths = stop + 1 - begin
    shift = np.repeat(begin - (np.cumsum(lengths) - lengths), lengths)
    return buf[shift + np.arange(int(lengths.sum()))].tobytes()


def _numbers(
    buf: npt.NDArray[np.uint8], begin: npt.NDArray[np.intp], stop: npt.NDArray[np.intp],
    kind: type[np.int64] | type[np.float64], count: int,
) -> npt.NDArray[np.generic] | None:  # fmt: skip
    return _numbers_of(_gather(buf, begin, stop).decode("ascii", "replace"), kind, count)


def _numbers_of(
    text: str, kind: type[np.int64] | type[np.float64], count: int
) -> npt.NDArray[np.generic] | None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a cell that is no number makes NumPy warn and stop
        try:
            values = np.fromstring(text, dtype=kind, sep=",")
        except (ValueError, DeprecationWarning):
            return None
    return values if len(values) == count else None


def _statuses(
    buf: npt.NDArray[np.uint8], begin: npt.NDArray[np.intp], stop: npt.NDArray[np.intp]
) -> npt.NDArray[np.uint8] | None:
    # The statuses' first letters differ; the length confirms the rest.
    codes = _CODE_BY_FIRST_BYTE[buf[np.minimum(begin, len(buf) - 1)]]
    if (codes == 255).any() or (_STATUS_LENGTHS[codes] != stop - begin).any():
        return None
    return codes


def _machines(
    buf: npt.NDArray[np.uint8], begin: npt.NDArray[np.intp], stop: npt.NDArray[np.intp]
) -> tuple[list[str], npt.NDArray[np.intp]] | None:
    lengths = stop - begin
    longest = int(lengths.max())
    if longest == 0 or longest > _MAX_NAME:
        return None
    place = np.arange(longest)
    index = np.minimum(begin[:, None] + place, len(buf) - 1)
    padded = np.where(place < lengths[:, None], buf[index], 0).astype(np.uint8)
    keys = np.ascontiguousarray(padded).view(f"V{longest}").ravel()
    distinct, inverse = np.unique(keys, return_inverse=True)
    names = [key.tobytes().rstrip(b"\0").decode("utf-8", "replace") for key in distinct]
    return names, inverse.ravel()
