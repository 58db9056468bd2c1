"""Reading a merged results file into the report's columns: exact values, any frame cuts."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labels import key_of
from splitter.report.failures import Failures
from splitter.report.read import ResultTable, merged_results_path, read_columns
from splitter.store.frames import CorruptFileError, FrameWriter

HEADER = "job_id,machine,status,start_time,duration,error,job_key,input,origin,label\n"


def labels(job_id: int, failed: bool = False) -> str:
    """A row's job_key, input and origin cells (a failed row says its input)."""
    return f"{key_of(job_id)},{job_id if failed else ''},"


ROWS = (
    f"0,alpha,ok,100.5,2.0,,{labels(0)},plain\n"
    f'1,beta,error,101.0,0.25,"ValueError: a, b",{labels(1, True)},x\n'
    f'2,alpha,ok,102.0,1.5,,{labels(2)},"two\nlines"\n'
    f"3,beta,timeout,103.0,30.0,job timed out after 30 s,{labels(3, True)},\n"
    f'4,alpha,error,104.0,0.5,"ValueError: a, b",{labels(4, True)},y\n'
)
TEXT = HEADER + ROWS


def write_frames(path: Path, text: str, cuts: list[int]) -> Path:
    """`text` in zstd frames cut at the character offsets `cuts`."""
    with FrameWriter(path, 1) as frames:
        start = 0
        for cut in [*sorted(set(cuts)), len(text)]:
            if cut > start:
                frames.write_frame(text[start:cut].encode())
                start = cut
    return path


def counts(table: ResultTable) -> dict[str, int]:
    return {pattern: group.count for pattern, group in table.failures.groups.items()}


def first_ids(failures: Failures) -> dict[str, list[int]]:
    return {pattern: group.first_ids for pattern, group in failures.groups.items()}


def test_read_columns_keeps_the_first_five_cells_of_every_row(tmp_path: Path) -> None:
    cols = read_columns(write_frames(tmp_path / "results.csv.zst", TEXT, [])).columns
    assert cols.machines == ("alpha", "beta")
    assert cols.job_id.tolist() == [0, 1, 2, 3, 4]
    assert cols.machine.tolist() == [0, 1, 0, 1, 0]
    assert cols.status.tolist() == [0, 1, 0, 3, 1]
    assert cols.start.tolist() == [100.5, 101.0, 102.0, 103.0, 104.0]
    assert cols.end.tolist() == [102.5, 101.25, 103.5, 133.0, 104.5]


def test_read_columns_tallies_failures_by_message_with_numbers_masked(tmp_path: Path) -> None:
    failures = read_columns(write_frames(tmp_path / "results.csv.zst", TEXT, [])).failures
    assert first_ids(failures) == {"ValueError: a, b": [1, 4], "job timed out after N s": [3]}
    assert {p: (g.kind, g.example, g.statuses) for p, g in failures.groups.items()} == {
        "ValueError: a, b": ("ValueError", "ValueError: a, b", {"error"}),
        "job timed out after N s": ("timeout", "job timed out after 30 s", {"timeout"}),
    }


@given(st.lists(st.integers(min_value=1, max_value=len(TEXT) - 1), max_size=8))
def test_frames_cut_anywhere_read_the_same(
    tmp_path_factory: pytest.TempPathFactory, cuts: list[int]
) -> None:
    path = write_frames(tmp_path_factory.mktemp("cuts") / "results.csv.zst", TEXT, cuts)
    table = read_columns(path)
    assert table.columns.job_id.tolist() == [0, 1, 2, 3, 4]
    assert table.columns.duration.tolist() == [2.0, 0.25, 1.5, 30.0, 0.5]
    assert counts(table) == {"ValueError: a, b": 2, "job timed out after N s": 1}


def test_a_plain_results_csv_reads_like_the_compressed_one(tmp_path: Path) -> None:
    (tmp_path / "results.csv").write_text(TEXT, encoding="utf-8")
    table = read_columns(merged_results_path(tmp_path))
    assert table.columns.job_id.tolist() == [0, 1, 2, 3, 4]
    assert first_ids(table.failures)["ValueError: a, b"] == [1, 4]


def test_a_file_without_the_results_header_is_refused(tmp_path: Path) -> None:
    path = write_frames(tmp_path / "results.csv.zst", "a,b,c\n1,2,3\n", [])
    with pytest.raises(CorruptFileError) as caught:
        read_columns(path)
    assert str(caught.value) == (
        f"{path} has no splitter results header (its first line is 'a,b,c');"
        " pass the folder that `merge` wrote"
    )


def test_a_row_of_the_wrong_width_is_refused(tmp_path: Path) -> None:
    text = HEADER + f"0,alpha,ok,1.0,2.0,,{labels(0)}\n"
    path = write_frames(tmp_path / "results.csv.zst", text, [])
    with pytest.raises(CorruptFileError) as caught:
        read_columns(path)
    assert str(caught.value) == (
        f"{path} holds a row that has not the header's 10 cells; it was edited or damaged:"
        " merge again with --force"
    )


def test_a_status_that_is_not_ours_is_refused(tmp_path: Path) -> None:
    text = HEADER + f"0,alpha,done,1.0,2.0,,{labels(0)},x\n"
    path = write_frames(tmp_path / "results.csv.zst", text, [])
    with pytest.raises(CorruptFileError, match="holds a row whose cells are not valid"):
        read_columns(path)


def test_a_cut_off_last_frame_is_refused(tmp_path: Path) -> None:
    path = write_frames(tmp_path / "results.csv.zst", TEXT, [len(HEADER)])
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(CorruptFileError, match="merge again with --force"):
        read_columns(path)


def test_a_folder_without_results_names_both_files(tmp_path: Path) -> None:
    with pytest.raises(Exception) as caught:
        merged_results_path(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path} holds no results.csv.zst or results.csv; pass the folder that"
        " `merge DIR... --out M` wrote (M)"
    )


PLAIN = (
    HEADER
    + f"0,alpha,ok,100.5,2.0,,{labels(0)},plain\n"
    + f"1,beta,error,101.0,0.25,ValueError: a b,{labels(1, True)},x\n"
    + f"2,gamma,crashed,1e3,1.5,worker died,{labels(2, True)},\n"
    + f"3,alpha,error,103.0,30.0,ValueError: a b,{labels(3, True)},\n"
)


@given(st.lists(st.integers(min_value=1, max_value=len(PLAIN) - 1), max_size=8))
def test_unquoted_frames_cut_anywhere_read_the_same(
    tmp_path_factory: pytest.TempPathFactory, cuts: list[int]
) -> None:
    path = write_frames(tmp_path_factory.mktemp("plain") / "results.csv.zst", PLAIN, cuts)
    table = read_columns(path)
    cols = table.columns
    assert [cols.machines[m] for m in cols.machine] == ["alpha", "beta", "gamma", "alpha"]
    assert cols.status.tolist() == [0, 1, 2, 1]
    assert cols.start.tolist() == [100.5, 101.0, 1000.0, 103.0]
    assert first_ids(table.failures) == {"ValueError: a b": [1, 3], "worker died": [2]}


def test_rows_without_job_columns_end_in_their_origin_cell(tmp_path: Path) -> None:
    text = "job_id,machine,status,start_time,duration,error,job_key,input,origin\n"
    text += f"0,a,ok,1.0,2.0,,{labels(0)}\n1,a,timeout,2.0,9.0,late,{labels(1, True)}\n"
    table = read_columns(write_frames(tmp_path / "results.csv.zst", text, []))
    assert table.columns.duration.tolist() == [2.0, 9.0]
    assert counts(table) == {"late": 1}


@pytest.mark.parametrize(
    "cells", ["0,alpha,ok,1.0,,", "0,alpha,ok,one,2.0,", "x,alpha,ok,1.0,2.0,"]
)
def test_a_number_cell_that_is_no_number_is_refused(tmp_path: Path, cells: str) -> None:
    row = f"{cells},{labels(0)},x\n"
    path = write_frames(tmp_path / "results.csv.zst", HEADER + row, [])
    with pytest.raises(CorruptFileError, match="holds a row whose cells are not valid"):
        read_columns(path)


# The base columns after the lead's job identity work, then three result columns.
WIDE_HEADER = (
    "job_id,machine,status,start_time,duration,error,job_key,input,origin,score,label,count\n"
)
KEY = "0123456789abcdef" * 2


def wide_row(job: int, status: str = "ok", duration: float = 1.0, **cells: str) -> str:
    values = {"error": "", "input": "", "score": f"{job / 2}", "label": f"l{job}",
              "count": str(job), **cells}  # fmt: skip
    return (
        f"{job},alpha,{status},{100 + job},{duration},{values['error']},{KEY},"
        f"{values['input']},,{values['score']},{values['label']},{values['count']}\n"
    )


@pytest.mark.parametrize("quoted", [False, True])
def test_numeric_result_columns_are_read_by_name(tmp_path: Path, quoted: bool) -> None:
    rows = [wide_row(0), wide_row(1, "error", error="KeyError: 1", score="", count=""),
            wide_row(2, label='"x, y"' if quoted else "x")]  # fmt: skip
    table = read_columns(
        write_frames(tmp_path / "results.csv.zst", WIDE_HEADER + "".join(rows), [])
    )
    # job_key, input and origin are not results; label holds text, so it is not drawn.
    assert list(table.values) == ["score", "count"]
    assert [v if v == v else None for v in table.values["score"].tolist()] == [0.0, None, 1.0]
    assert table.stride == 1 and table.has_input


@pytest.mark.parametrize("quoted", [False, True])
def test_a_failed_job_keeps_its_input_as_its_parameters(tmp_path: Path, quoted: bool) -> None:
    given = "\"(3, 'a, b')\"" if quoted else "(3 7)"
    rows = wide_row(0) + wide_row(1, "error", error="ValueError: no", input=given)
    table = read_columns(write_frames(tmp_path / "results.csv.zst", WIDE_HEADER + rows, []))
    assert table.details[1] == ("(3, 'a, b')" if quoted else "(3 7)")


def test_the_slowest_jobs_keep_their_result_cells_as_parameters(tmp_path: Path) -> None:
    rows = "".join(wide_row(job, duration=float(job % 13)) for job in range(40))
    table = read_columns(write_frames(tmp_path / "results.csv.zst", WIDE_HEADER + rows, [900]))
    slowest = sorted(range(40), key=lambda job: (-(job % 13), job))[:10]
    assert sorted(table.details) == sorted(slowest)
    assert table.details[12] == "score=6.0, label=l12, count=12"


def test_a_line_longer_than_any_frame_is_refused_not_gathered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("splitter.report.pieces.MAX_FRAME_BYTES", 1 << 20)
    monkeypatch.setattr("splitter.report.pieces._BLOCK_BYTES", 1 << 16)
    path = tmp_path / "results.csv"
    path.write_bytes(HEADER.encode() + b"0" * (2 << 20))
    with pytest.raises(CorruptFileError) as caught:
        read_columns(path)
    assert str(caught.value) == (
        f"{path} holds a line longer than 1 MiB, which no merge writes; merge again with"
        " --force to rewrite the merged files"
    )


def test_a_file_of_zeros_is_refused_at_its_first_block(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    with path.open("wb") as f:
        f.truncate(8 << 30)  # a sparse file of 8 GiB: no disk, all zeros
    with pytest.raises(CorruptFileError) as caught:
        read_columns(path)
    assert str(caught.value) == (
        f"{path} has no splitter results header (its first line is {chr(0) * 80!r});"
        " pass the folder that `merge` wrote"
    )
