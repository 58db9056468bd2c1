"""Job columns' kinds: noted while rows are formatted, kept beside the results, read by."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from splitter.store.celltypes import UNKNOWN, ColumnKinds, column_reader, kind_of, parse_cell
from splitter.store.frames import CorruptFileError
from splitter.store.results import ResultsWriter
from splitter.store.rowformat import RowFormat, cell_text
from splitter.store.typesfile import TYPES_NAME, read_types, union_of, write_types

START = 1763805600.25


class Labels:
    """Every job's key and input, as a test needs them."""

    def key_text(self, job_id: int) -> str:
        return f"{job_id:032x}"

    def input(self, job_id: int) -> str:
        return str(job_id)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (None, "none"), (True, "bool"), (3, "int"), (2.5, "float"), ("x", "str"),
        (np.int16(3), "int"), (np.float32(0.5), "float"), (np.bool_(False), "bool"),
        (np.array(7), "int"), (np.arange(3), "array:<i8"), (np.ones((2, 2), "<f4"), "array:<f4"),
        (np.array(["a"]), "list"), ([1], "list"), ((1, 2), "tuple"), ({"a": 1}, "dict"),
        (Path("p"), "str"),
    ],
)  # fmt: skip
def test_kind_of_names_what_a_returned_value_is_stored_as(value: object, kind: str) -> None:
    assert kind_of(value) == kind


values_of_one_kind = st.one_of(
    st.lists(st.integers(), min_size=1),
    st.lists(st.floats(), min_size=1),
    st.lists(st.booleans(), min_size=1),
    st.lists(st.text(min_size=1), min_size=1),
    st.lists(st.lists(st.integers(), max_size=3), min_size=1),
    st.lists(st.dictionaries(st.text(), st.integers(), max_size=3), min_size=1),
)


def _same(read: object, value: object) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return isinstance(read, float) and math.isnan(read)
    return type(read) is type(value) and read == value


@given(values_of_one_kind)
def test_a_column_of_one_kind_reads_back_exactly(values: list[object]) -> None:
    read = column_reader({kind_of(value) for value in values})
    assert all(_same(read(cell_text(value)), value) for value in values)


@given(st.lists(st.one_of(st.integers(), st.floats(), st.booleans(), st.none()), min_size=1))
def test_ints_floats_and_bools_in_one_column_read_back_exactly(values: list[object]) -> None:
    read = column_reader({kind_of(value) for value in values} - {"none"})
    assert all(_same(read(cell_text(value)), value) for value in values)


def test_a_str_that_looks_like_a_number_stays_a_str_in_a_column_of_strs() -> None:
    assert column_reader({"str"})("42") == "42"
    assert column_reader({"str"})("") is None


def test_a_column_of_strs_and_numbers_and_an_unrecorded_one_read_by_parse_cell() -> None:
    assert column_reader({"str", "int"}) is parse_cell
    assert column_reader(None) is parse_cell
    assert column_reader({UNKNOWN}) is parse_cell


def test_arrays_read_back_with_their_dtype_and_tuples_as_tuples() -> None:
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    read = column_reader({kind_of(array)})(cell_text(array))
    assert read.dtype == np.uint8 and np.array_equal(read, array)
    assert column_reader({"tuple"})(cell_text((1, "a"))) == (1, "a")


def test_a_row_whose_cells_have_the_types_of_the_row_before_notes_no_kind() -> None:
    row_format = RowFormat("alpha", ("x", "s"), (), Labels())
    row_format.line(0, "ok", START, 0.1, "", {"x": 1, "s": "a"})
    assert row_format.kinds.take() == (("x", "int"), ("s", "str"))
    row_format.line(1, "ok", START, 0.1, "", {"x": 2, "s": "b"})
    assert row_format.kinds.fresh == []
    row_format.line(2, "ok", START, 0.1, "", {"x": 2.5, "s": "c"})
    assert row_format.kinds.take() == (("x", "float"),)


def test_the_writer_records_a_new_kind_before_the_rows_that_hold_it(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    with ResultsWriter(path, "alpha", None, Labels()) as writer:
        writer.add(0, "ok", START, 0.1, "", {"x": 1})
        writer.flush()
        assert read_types(tmp_path / TYPES_NAME) == {"x": {"int"}}
        writer.add(1, "ok", START, 0.1, "", {"x": "one", "y": [1]})
        writer.flush()
    assert read_types(tmp_path / TYPES_NAME) == {"x": {"int", "str"}, "y": {"list"}}


def test_a_new_file_of_failed_rows_alone_still_records_that_it_keeps_kinds(
    tmp_path: Path,
) -> None:
    with ResultsWriter(tmp_path / "results.csv.zst", "alpha", None, Labels()) as writer:
        writer.add(0, "error", START, 0.1, "ValueError: no", None)
    assert read_types(tmp_path / TYPES_NAME) == {}


def test_a_folder_written_before_kinds_were_kept_stays_without_them(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.zst"
    with ResultsWriter(path, "alpha", None, Labels()) as writer:
        writer.add(0, "ok", START, 0.1, "", {"x": 1})
    (tmp_path / TYPES_NAME).unlink()
    with ResultsWriter(path, "alpha", None, Labels()) as writer:
        writer.add(1, "ok", START, 0.1, "", {"x": "one"})
    assert not (tmp_path / TYPES_NAME).exists()


def test_copied_rows_of_a_folder_without_kinds_make_their_columns_unknown(
    tmp_path: Path,
) -> None:
    with ResultsWriter(tmp_path / "results.csv.zst", "alpha", None, Labels()) as writer:
        writer.adopt_kinds(None)
        writer.add_copied(0, {"job_key": "0" * 32, "x": "42"}, "old")
    assert read_types(tmp_path / TYPES_NAME) == {"x": {UNKNOWN}}


def test_the_types_file_round_trips_and_refuses_what_splitter_did_not_write(
    tmp_path: Path,
) -> None:
    kinds = ColumnKinds({"x": {"int", "float"}, "a": {"array:<f8"}})
    write_types(tmp_path / TYPES_NAME, kinds)
    assert read_types(tmp_path / TYPES_NAME) == {"x": {"int", "float"}, "a": {"array:<f8"}}
    assert read_types(tmp_path / "absent.json") is None
    (tmp_path / TYPES_NAME).write_text(json.dumps({"format": 1, "columns": {"x": "int"}}))
    with pytest.raises(CorruptFileError, match=r"lists 'int' for column 'x'; delete it"):
        read_types(tmp_path / TYPES_NAME)


def test_merged_kinds_are_every_folders_and_unknown_for_a_folder_without_them() -> None:
    union = union_of([({"x": frozenset({"int"})}, ("x",)), (None, ("x", "y"))])
    assert union.frozen() == {"x": {"int", UNKNOWN}, "y": {UNKNOWN}}
