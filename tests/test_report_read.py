"""Reading a merged results file into the report's columns: exact values, any frame cuts."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from splitter.report.read import OTHER_MESSAGES, Failures, merged_results_path, read_columns
from splitter.store.frames import CorruptFileError, FrameWriter

HEADER = "job_id,machine,status,start_time,duration,error,label\n"
ROWS = (
    "0,alpha,ok,100.5,2.0,,plain\n"
    '1,beta,error,101.0,0.25,"ValueError: a, b",x\n'
    '2,alpha,ok,102.0,1.5,,"two\nlines"\n'
    "3,beta,timeout,103.0,30.0,job timed out after 30 s,\n"
    '4,alpha,error,104.0,0.5,"ValueError: a, b",y\n'
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


def test_read_columns_keeps_the_first_five_cells_of_every_row(tmp_path: Path) -> None:
    cols, _ = read_columns(write_frames(tmp_path / "results.csv.zst", TEXT, []))
    assert cols.machines == ("alpha", "beta")
    assert cols.job_id.tolist() == [0, 1, 2, 3, 4]
    assert cols.machine.tolist() == [0, 1, 0, 1, 0]
    assert cols.status.tolist() == [0, 1, 0, 3, 1]
    assert cols.start.tolist() == [100.5, 101.0, 102.0, 103.0, 104.0]
    assert cols.end.tolist() == [102.5, 101.25, 103.5, 133.0, 104.5]


def test_read_columns_tallies_failures_by_message(tmp_path: Path) -> None:
    _, failures = read_columns(write_frames(tmp_path / "results.csv.zst", TEXT, []))
    assert failures.counts == {"ValueError: a, b": 2, "job timed out after 30 s": 1}
    assert failures.first_ids == {"ValueError: a, b": [1, 4], "job timed out after 30 s": [3]}
    assert failures.statuses == {
        "ValueError: a, b": {"error"},
        "job timed out after 30 s": {"timeout"},
    }


@given(st.lists(st.integers(min_value=1, max_value=len(TEXT) - 1), max_size=8))
def test_frames_cut_anywhere_read_the_same(
    tmp_path_factory: pytest.TempPathFactory, cuts: list[int]
) -> None:
    path = write_frames(tmp_path_factory.mktemp("cuts") / "results.csv.zst", TEXT, cuts)
    cols, failures = read_columns(path)
    assert cols.job_id.tolist() == [0, 1, 2, 3, 4]
    assert cols.duration.tolist() == [2.0, 0.25, 1.5, 30.0, 0.5]
    assert failures.counts == {"ValueError: a, b": 2, "job timed out after 30 s": 1}


def test_a_plain_results_csv_reads_like_the_compressed_one(tmp_path: Path) -> None:
    (tmp_path / "results.csv").write_text(TEXT, encoding="utf-8")
    cols, failures = read_columns(merged_results_path(tmp_path))
    assert cols.job_id.tolist() == [0, 1, 2, 3, 4]
    assert failures.first_ids["ValueError: a, b"] == [1, 4]


def test_a_file_without_the_results_header_is_refused(tmp_path: Path) -> None:
    path = write_frames(tmp_path / "results.csv.zst", "a,b,c\n1,2,3\n", [])
    with pytest.raises(CorruptFileError) as caught:
        read_columns(path)
    assert str(caught.value) == (
        f"{path} has no splitter results header (its first line is 'a,b,c');"
        " pass the folder that `merge` wrote"
    )


def test_a_row_of_the_wrong_width_is_refused(tmp_path: Path) -> None:
    path = write_frames(tmp_path / "results.csv.zst", HEADER + "0,alpha,ok,1.0,2.0,\n", [])
    with pytest.raises(CorruptFileError) as caught:
        read_columns(path)
    assert str(caught.value) == (
        f"{path} holds a row that has not the header's 7 cells; it was edited or damaged:"
        " merge again with --force"
    )


def test_a_status_that_is_not_ours_is_refused(tmp_path: Path) -> None:
    path = write_frames(tmp_path / "results.csv.zst", HEADER + "0,alpha,done,1.0,2.0,,x\n", [])
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


def test_failures_beyond_the_cap_are_counted_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("splitter.report.read._MAX_MESSAGES", 2)
    failures = Failures()
    for job, message in enumerate(["a", "b", "c", "a", "d"]):
        failures.add(message, "error", job)
    assert failures.counts == {"a": 2, "b": 1, OTHER_MESSAGES: 2}
    assert failures.first_ids[OTHER_MESSAGES] == [2, 4]


PLAIN = (
    HEADER
    + "0,alpha,ok,100.5,2.0,,plain\n"
    + "1,beta,error,101.0,0.25,ValueError: a b,x\n"
    + "2,gamma,crashed,1e3,1.5,worker died,\n"
    + "3,alpha,error,103.0,30.0,ValueError: a b,\n"
)


@given(st.lists(st.integers(min_value=1, max_value=len(PLAIN) - 1), max_size=8))
def test_unquoted_frames_cut_anywhere_read_the_same(
    tmp_path_factory: pytest.TempPathFactory, cuts: list[int]
) -> None:
    path = write_frames(tmp_path_factory.mktemp("plain") / "results.csv.zst", PLAIN, cuts)
    cols, failures = read_columns(path)
    assert [cols.machines[m] for m in cols.machine] == ["alpha", "beta", "gamma", "alpha"]
    assert cols.status.tolist() == [0, 1, 2, 1]
    assert cols.start.tolist() == [100.5, 101.0, 1000.0, 103.0]
    assert failures.first_ids == {"ValueError: a b": [1, 3], "worker died": [2]}


def test_rows_without_job_columns_end_in_their_error_cell(tmp_path: Path) -> None:
    text = "job_id,machine,status,start_time,duration,error\n"
    text += "0,a,ok,1.0,2.0,\n1,a,timeout,2.0,9.0,late\n"
    cols, failures = read_columns(write_frames(tmp_path / "results.csv.zst", text, []))
    assert cols.duration.tolist() == [2.0, 9.0]
    assert failures.counts == {"late": 1}


@pytest.mark.parametrize(
    "row", ["0,alpha,ok,1.0,,,x\n", "0,alpha,ok,one,2.0,,x\n", "x,alpha,ok,1.0,2.0,,x\n"]
)
def test_a_number_cell_that_is_no_number_is_refused(tmp_path: Path, row: str) -> None:
    path = write_frames(tmp_path / "results.csv.zst", HEADER + row, [])
    with pytest.raises(CorruptFileError, match="holds a row whose cells are not valid"):
        read_columns(path)
