"""The array parser of unquoted rows: exact cells, and None for whatever it cannot take."""

from __future__ import annotations

import pytest

from splitter.report.cells import plain_cells

ROWS = (
    b"0,alpha,ok,100.5,2.0,,plain\n"
    b"1,beta,error,101.0,0.25,ValueError: a b,x\n"
    b"7,alpha,timeout,1e3,30.0,late,\n"
)


def test_plain_cells_reads_the_first_six_cells() -> None:
    cells = plain_cells(ROWS, 7)
    assert cells is not None
    assert cells.job_id.tolist() == [0, 1, 7]
    assert [cells.machines[m] for m in cells.machine] == ["alpha", "beta", "alpha"]
    assert cells.status.tolist() == [0, 1, 3]
    assert cells.start.tolist() == [100.5, 101.0, 1000.0]
    assert cells.duration.tolist() == [2.0, 0.25, 30.0]
    assert cells.errors == {1: "ValueError: a b", 2: "late"}


@pytest.mark.parametrize(
    "rows",
    [
        b"0,alpha,ok,1.0,2.0,,x,extra\n",  # a cell too many
        b"0,alpha,ok,1.0,2.0\n",  # too few
        b"0,alpha,done,1.0,2.0,,x\n",  # not a status
        b"0,alpha,okay,1.0,2.0,,x\n",  # a status's first letter, not the status
        b"0,,ok,1.0,2.0,,x\n",  # no machine
        b"0,alpha,ok,1.0,,,x\n",  # no duration
        b"0.5,alpha,ok,1.0,2.0,,x\n",  # not a job id
    ],
)
def test_plain_cells_refuses_what_is_not_a_merged_row(rows: bytes) -> None:
    assert plain_cells(rows, 7) is None
