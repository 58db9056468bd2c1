"""Tests for splitter.store.results: the results.csv.zst writer, reader and resume rules."""

from __future__ import annotations

import csv
import json
import math
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from labels import LABELS, key_of
from splitter.errors import ConfigError
from splitter.store.frames import CorruptFileError, FrameWriter
from splitter.store.results import (
    BASE_COLUMNS,
    STATUSES,
    ResultsReader,
    ResultsWriter,
    parse_cell,
    recorded_outcomes,
)
from splitter.store.rowformat import MAX_ROW_BYTES, RowFormat

START = 1763805600.25


def write_rows(
    path: Path,
    values: list[object],
    declared: tuple[str, ...] | None = None,
    flush_every: int = 0,
) -> None:
    with ResultsWriter(path, "alpha", declared, LABELS) as writer:
        for job_id, value in enumerate(values):
            writer.add(job_id, "ok", START, 0.5, "", value)
            if flush_every and (job_id + 1) % flush_every == 0:
                writer.flush()


def read_rows(path: Path) -> tuple[tuple[str, ...], list[list[str]]]:
    reader = ResultsReader(path)
    rows = list(reader)
    return reader.header, rows


def base(job_id: int, status: str = "ok", error: str = "") -> list[str]:
    """The base cells of a row of job ``job_id``: a failed row also says its input."""
    described = "" if status == "ok" else str(job_id)
    start, duration = "1763805600.250000", "0.500000"
    return [str(job_id), "alpha", status, start, duration, error, key_of(job_id), described, ""]


def cells_of(line: str) -> list[str]:
    assert line.endswith("\n")
    return next(csv.reader([line]))


def raw_text(path: Path) -> str:
    with (
        open(path, "rb") as f,
        zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True) as reader,
    ):
        return reader.read().decode("utf-8")


cell_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(),
)


def expected_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


@settings(max_examples=60)
@given(
    values=st.lists(
        st.dictionaries(st.sampled_from("abcd"), cell_values), min_size=1, max_size=20
    ),
    flush_every=st.integers(min_value=0, max_value=5),
)
def test_dict_rows_round_trip_exactly(values: list[dict[str, object]], flush_every: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "results.csv.zst"
        write_rows(path, list(values), ("a", "b", "c", "d"), flush_every)
        header, rows = read_rows(path)
    assert header == (*BASE_COLUMNS, "a", "b", "c", "d", "extra")
    assert rows == [
        [*base(i), *(expected_cell(value.get(c)) for c in "abcd"), ""]
        for i, value in enumerate(values)
    ]


@given(st.one_of(st.booleans(), st.integers(), st.floats(allow_nan=False)))
def test_parse_cell_reads_back_numbers_and_booleans(value: object) -> None:
    parsed = parse_cell(expected_cell(value))
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("", None),
        ("42", 42),
        ("-7", -7),
        ("1.5", 1.5),
        ("1e-07", 1e-07),
        ("-inf", -math.inf),
        ("True", True),
        ("False", False),
        ("true", "true"),
        ("1_000", "1_000"),
        (" 1", " 1"),
        ("alpha", "alpha"),
    ],
)
def test_parse_cell_types_each_kind_of_text(text: str, value: object) -> None:
    assert parse_cell(text) == value
    assert type(parse_cell(text)) is type(value)


def test_parse_cell_reads_nan() -> None:
    parsed = parse_cell("nan")
    assert isinstance(parsed, float)
    assert math.isnan(parsed)


def test_header_takes_the_first_returned_columns_and_later_keys_go_to_extra(
    tmp_path: Path,
) -> None:
    path = tmp_path / "results.csv.zst"
    with ResultsWriter(path, "alpha", None, LABELS) as writer:
        writer.add(0, "error", START, 0.5, "boom", None)
        assert writer.columns is None
        writer.add(1, "ok", START, 0.5, "", {"b": 1, "a": 2})
        assert writer.columns == ("b", "a")
        writer.add(2, "ok", START, 0.5, "", {"c": 3})
        assert writer.pending == 3
        assert writer.flush() == 3
        assert writer.pending == 0
        writer.add(3, "ok", START, 0.5, "", {"a": 4, "late": [1, 2], "later": None})
        assert writer.flush() == 1
        assert writer.flush() == 0
    header, rows = read_rows(path)
    assert header == (*BASE_COLUMNS, "b", "a", "extra")
    assert rows == [
        [*base(0, "error", "boom"), "", "", ""],
        [*base(1), "1", "2", ""],
        [*base(2), "", "", '{"c": "3"}'],
        [*base(3), "", "4", '{"late": "[1, 2]", "later": ""}'],
    ]


def test_rows_formatted_by_a_worker_are_appended_as_they_are(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    with ResultsWriter(path, "alpha", ("x",), LABELS) as writer:
        assert writer.columns == ("x",)
        text = RowFormat("alpha", ("x",), ("x",), LABELS).line(4, "ok", START, 0.5, "", 7)
        writer.add_text(text * 2, 2)
        assert writer.pending == 2
    header, rows = read_rows(path)
    assert header == (*BASE_COLUMNS, "x", "extra")
    assert rows == [[*base(4), "7", ""], [*base(4), "7", ""]]


RESERVED_REASON = (
    "the job returned keys named like splitter's own columns (extra, status); rename them:"
    " duration, error, extra, input, job_id, job_key, machine, origin, start_time, status are"
    " reserved"
)


def test_keys_named_like_splitters_own_columns_make_the_first_row_an_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "results.csv.zst"
    with ResultsWriter(path, "alpha", None, LABELS) as writer:
        assert writer.add(0, "ok", START, 0.5, "", {"status": "done", "extra": 1, "x": 2}) == (
            "error"
        )
        assert writer.add(1, "ok", START, 0.5, "", {"x": 3}) == "ok"
    header, rows = read_rows(path)
    assert header == (*BASE_COLUMNS, "x", "extra")
    assert rows == [[*base(0, "error", RESERVED_REASON), "", ""], [*base(1), "3", ""]]


def test_keys_named_like_splitters_own_columns_are_refused_once_the_header_is_fixed(
    tmp_path: Path,
) -> None:
    row_format = RowFormat("alpha", ("x",), (), LABELS)
    line = row_format.line(5, "ok", START, 0.5, "", {"x": 1, "job_id": "J0"})
    reason = RESERVED_REASON.replace("(extra, status)", "(job_id)")
    assert cells_of(line) == [*base(5, "error", reason), "", ""]
    assert row_format.refused == [5]


def test_tuples_and_scalars_use_the_declared_columns(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    write_rows(path, [(1, 2.5), (3, 4, "five"), 7, None], ("n", "x"))
    header, rows = read_rows(path)
    assert header == (*BASE_COLUMNS, "n", "x", "extra")
    assert rows == [
        [*base(0), "1", "2.5", ""],
        [*base(1), "3", "4", '{"value_3": "five"}'],
        [*base(2), "7", "", ""],
        [*base(3), "", "", ""],
    ]


def test_tuples_and_scalars_without_declared_columns_are_numbered(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    write_rows(path, [(1, 2), "s"], flush_every=1)
    with ResultsWriter(path, "alpha", None, LABELS) as writer:
        writer.add(2, "ok", START, 0.5, "", [1, 2, 3, 4, 5])
    header, rows = read_rows(path)
    assert header == (*BASE_COLUMNS, "value_1", "value_2", "extra")
    assert rows == [
        [*base(0), "1", "2", ""],
        [*base(1), "", "", '{"value": "s"}'],
        [*base(2), "1", "2", '{"value_3": "3", "value_4": "4", "value_5": "5"}'],
    ]


class Point:
    def __str__(self) -> str:
        return "Point(1, 2)"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (0.1 + 0.2, "0.30000000000000004"),
        (True, "True"),
        (np.float64(0.1), "0.1"),
        (np.float32(0.5), "0.5"),
        (np.int64(-3), "-3"),
        (np.bool_(True), "True"),
        (np.array([1, 2]), "[1, 2]"),
        ({"b": 1, "a": np.int64(2)}, '{"a": 2, "b": 1}'),
        ((1, "x", None), '[1, "x", null]'),
        ({1: "x", "y": 2}, "{1: 'x', 'y': 2}"),
        (b"raw", "b'raw'"),
        (Point(), "Point(1, 2)"),
        (float("inf"), "inf"),
    ],
)
def test_cells_format_each_kind_of_value(tmp_path: Path, value: object, cell: str) -> None:
    path = tmp_path / "results.csv.zst"
    write_rows(path, [{"v": value}])
    assert read_rows(path)[1] == [[*base(0), cell, ""]]


@settings(max_examples=60)
@given(st.lists(st.tuples(st.text(), st.text()), min_size=1, max_size=8))
def test_any_text_in_cells_and_errors_round_trips(pairs: list[tuple[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "results.csv.zst"
        with ResultsWriter(path, "al,pha %s", ("t",), LABELS) as writer:
            for job_id, (text, error) in enumerate(pairs):
                writer.add(job_id, "error", START, 0.5, error, text)
        rows = read_rows(path)[1]
    one_line = [e.replace("\r\n", " ").replace("\n", " ").replace("\r", " ") for _, e in pairs]
    assert [row[1] for row in rows] == ["al,pha %s"] * len(pairs)
    assert [row[5] for row in rows] == one_line
    assert [row[len(BASE_COLUMNS)] for row in rows] == [text for text, _ in pairs]


def test_a_carriage_return_in_a_cell_is_quoted_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    write_rows(path, [{"v": "a\rb"}, {"v": "plain"}])
    assert raw_text(path).split("\n")[1:] == [
        f'0,alpha,ok,1763805600.250000,0.500000,,{key_of(0)},,,"a\rb",',
        f"1,alpha,ok,1763805600.250000,0.500000,,{key_of(1)},,,plain,",
        "",
    ]


def test_times_have_six_decimals_and_errors_one_line(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    with ResultsWriter(path, "alpha", None, LABELS) as writer:
        writer.add(9, "crashed", 1.0000004, 12, "Traceback\n  line 1\r\nValueError: x", None)
    assert raw_text(path) == (
        "job_id,machine,status,start_time,duration,error,job_key,input,origin,extra\n"
        f"9,alpha,crashed,1.000000,12.000000,Traceback   line 1 ValueError: x,{key_of(9)},9,,\n"
    )


def test_an_unknown_status_is_refused(tmp_path: Path) -> None:
    expected = "status must be one of ok, error, crashed, timeout, not 'done'"
    with (
        ResultsWriter(tmp_path / "r.zst", "alpha", None, LABELS) as writer,
        pytest.raises(ValueError, match=expected),
    ):
        writer.add(1, "done", START, 0.5, "", None)
    assert STATUSES == ("ok", "error", "crashed", "timeout")


def test_declared_columns_may_not_reuse_splitters_own(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        ResultsWriter(tmp_path / "r.zst", "alpha", ("score", "status"), LABELS)
    assert str(caught.value) == (
        "[results] columns lists 'status' twice or as one of splitter's own columns"
        " (duration, error, extra, input, job_id, job_key, machine, origin, start_time, status);"
        " rename it in the config"
    )
    assert not (tmp_path / "r.zst").exists()


def test_a_new_file_without_rows_stays_empty_and_resumes_as_new(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    write_rows(path, [], ("a",))
    assert path.stat().st_size == 0
    assert read_rows(path) == ((), [])
    write_rows(path, [{"b": 1}])
    assert read_rows(path) == ((*BASE_COLUMNS, "b", "extra"), [[*base(0), "1", ""]])


def test_resume_keeps_the_existing_header(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    write_rows(path, [{"a": 1}])
    with ResultsWriter(path, "alpha", ("x", "y"), LABELS) as writer:
        writer.add(5, "ok", START, 0.5, "", {"a": 2, "b": 3})
        writer.add(6, "ok", START, 0.5, "", (7, 8))
    header, rows = read_rows(path)
    assert header == (*BASE_COLUMNS, "a", "extra")
    assert rows == [
        [*base(0), "1", ""],
        [*base(5), "2", '{"b": "3"}'],
        [*base(6), "", '{"x": "7", "y": "8"}'],
    ]
    assert raw_text(path).count("job_id") == 1


def test_a_truncated_tail_loses_only_the_last_frames_rows(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    write_rows(path, [{"a": i} for i in range(6)], flush_every=2)
    data = path.read_bytes()
    path.write_bytes(data[:-5])
    reader = ResultsReader(path)
    assert [row[0] for row in reader] == ["0", "1", "2", "3"]
    assert reader.rows == 4
    assert reader.damage is not None
    assert reader.damage.startswith("cut off mid-frame: ")


def test_header_reads_only_the_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    write_rows(path, [{"a": 1}])
    with open(path, "ab") as f:
        f.write(b"garbage after the first frame")
    assert ResultsReader(path).header == (*BASE_COLUMNS, "a", "extra")


def write_raw(path: Path, *texts: str) -> None:
    with FrameWriter(path) as writer:
        for text in texts:
            writer.write_frame(text.encode("utf-8"))


def test_a_file_without_a_splitter_header_is_a_corrupt_file_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = Path("results/alpha/results.csv.zst")
    path.parent.mkdir(parents=True)
    write_raw(path, "a,b\n1,2\n")
    for attempt in (lambda: ResultsReader(path).header, lambda: list(ResultsReader(path))):
        with pytest.raises(CorruptFileError) as caught:
            attempt()
        assert str(caught.value) == (
            "results/alpha/results.csv.zst has no splitter results header (its first line is"
            " 'a,b'); is it a results.csv.zst written by splitter?"
        )


def test_a_row_with_the_wrong_number_of_cells_is_a_corrupt_file_error(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    header = ",".join((*BASE_COLUMNS, "a", "extra"))
    key = key_of(1)
    first, second = f"1,alpha,ok,1.0,2.0,,{key},,,3,\n", f"2,alpha,ok,1.0,2.0,,{key},,,3\n"
    write_raw(path, f"{header}\n{first}", second)
    with pytest.raises(CorruptFileError) as caught:
        list(ResultsReader(path))
    assert str(caught.value) == (
        f"{path} row 2 has 10 cells, not 11; the file was edited or damaged,"
        " so restore the one splitter wrote or move it aside"
    )


def test_bytes_that_are_not_utf8_are_a_corrupt_file_error(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    with FrameWriter(path) as writer:
        writer.write_frame(",".join((*BASE_COLUMNS, "extra")).encode() + b"\n")
        writer.write_frame(b"1,alpha,ok,1.0,2.0,\xff,\n")
        end = writer.size
    with pytest.raises(CorruptFileError) as caught:
        list(ResultsReader(path))
    assert str(caught.value) == (
        f"{path} holds bytes that are not UTF-8 in its frame ending at byte {end};"
        " restore the file splitter wrote there, or move this one aside"
    )


def test_recorded_outcomes_prefers_ok_then_the_latest_failure(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    attempts = [(1, "ok"), (1, "error"), (2, "error"), (2, "crashed"), (3, "timeout")]
    attempts += [(3, "ok"), (4, "error")]
    with ResultsWriter(path, "alpha", None, LABELS) as writer:
        for job_id, status in attempts:
            writer.add(job_id, status, START, 0.5, "", None)
            writer.flush()
    assert recorded_outcomes(path) == {
        key_of(1): "ok", key_of(2): "crashed", key_of(3): "ok", key_of(4): "error",
    }  # fmt: skip


def test_recorded_outcomes_of_a_cut_file_keeps_the_whole_frames(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "results.csv.zst"
    write_rows(path, [None, None, None], flush_every=2)
    path.write_bytes(path.read_bytes()[:-1])
    assert recorded_outcomes(path) == {key_of(0): "ok", key_of(1): "ok"}
    assert "the jobs in that part run again" in caplog.text


def test_recorded_outcomes_refuses_a_job_key_that_is_not_a_key(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    write_raw(path, ",".join((*BASE_COLUMNS, "extra")) + "\n0,alpha,ok,1.0,2.0,,x,,,\n")
    with pytest.raises(CorruptFileError) as caught:
        recorded_outcomes(path)
    assert str(caught.value) == (
        f"{path} row 1 has job_key 'x' and status 'ok', not a key of 32 hex digits and a status;"
        " the file was edited or damaged, so restore the one splitter wrote or move it aside"
    )


def test_cells_larger_than_csvs_default_field_limit_read_back(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    big, array = "x" * 200_000, np.arange(8_000) / 7
    write_rows(path, [{"s": big, "a": array}, {"s": "y", "a": None}])
    header, rows = read_rows(path)
    assert header == (*BASE_COLUMNS, "s", "a", "extra")
    assert rows[0] == [*base(0), big, json.dumps(array.tolist()), ""]
    assert recorded_outcomes(path) == {key_of(0): "ok", key_of(1): "ok"}


def too_large(job_id: int, cells: str) -> str:
    """The error of job ``job_id``'s row whose job cells are ``cells``: its bytes as written."""
    size = len(",".join(base(job_id)) + f",{cells},\n")
    return (
        f"the job's result makes a row of {size:,} bytes, more than the {MAX_ROW_BYTES:,}"
        " a row may hold; write large outputs to files and return their paths"
    )


def test_a_result_larger_than_the_cap_is_an_error_row_saying_why(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    huge = "x" * MAX_ROW_BYTES  # with the row's other cells, more than a row may take
    with ResultsWriter(path, "alpha", None, LABELS) as writer:
        assert writer.add(0, "ok", START, 0.5, "", {"s": huge}) == "error"
        assert writer.add(1, "ok", START, 0.5, "", {"s": "small"}) == "ok"
        assert writer.add(2, "ok", START, 0.5, "", {"s": huge}) == "error"
    assert read_rows(path)[1] == [
        [*base(0, "error", too_large(0, huge)), "", ""],
        [*base(1), "small", ""],
        [*base(2, "error", too_large(2, huge)), "", ""],
    ]


def test_a_worker_formats_a_result_larger_than_the_cap_as_an_error_row() -> None:
    row_format = RowFormat("alpha", ("s",), (), LABELS)
    huge = "x" * MAX_ROW_BYTES
    line = row_format.line(3, "ok", START, 0.5, "", {"s": huge})
    assert cells_of(line) == [*base(3, "error", too_large(3, huge)), "", ""]
    assert row_format.refused == [3]


def test_a_value_that_does_not_pickle_makes_the_row_an_error_not_its_address() -> None:
    row_format = RowFormat("alpha", ("x", "f"), (), LABELS)
    line = row_format.line(2, "ok", START, 0.5, "", {"x": 1, "f": lambda: 1})
    cells = cells_of(line)
    assert cells[:5] == base(2, "error")[:5]
    assert cells[6:] == [*base(2, "error")[6:], "", "", ""]
    assert re.fullmatch(
        r"the job's result cannot be sent from its worker: a function value in it does not"
        r" pickle \(.+\); return plain values",
        cells[5],
    ), cells[5]
    assert row_format.refused == [2]
