"""Tests for splitter.store.rowformat: how a job's return value becomes one results row."""

from __future__ import annotations

import csv
import sys

import pytest

from splitter.store import rowformat
from splitter.store.frames import MAX_FRAME_BYTES
from splitter.store.rowformat import (
    BASE_COLUMNS,
    ERROR_CHARS,
    INPUT_CHARS,
    MAX_ROW_BYTES,
    RefusedValue,
    RowFormat,
    named_cells,
)

# Rows near MAX_ROW_BYTES hold cells over csv's default field limit, as readers allow.
csv.field_size_limit(2**31 - 1)
START = 1763805600.25
KEY = "0123456789abcdef" * 2
TOO_LONG_INT = (
    f"the job's result holds an int of more than {sys.get_int_max_str_digits():,} digits,"
    " which Python does not turn into text; return it as a str"
)


class Labels:
    """Every job's key is KEY and its input `item <id>`."""

    def key_text(self, job_id: int) -> str:
        return KEY

    def input(self, job_id: int) -> str:
        return f"item {job_id}"


class StrRaises:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def _rebuild() -> None:
    raise RuntimeError("cannot be rebuilt here")


class DoesNotUnpickle:
    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (_rebuild, ())


def cells_of(line: str) -> dict[str, str]:
    assert line.endswith("\n")
    return dict(zip(BASE_COLUMNS, next(csv.reader([line])), strict=False))


def error_of(row_format: RowFormat, value: object) -> str:
    """The error cell of job 7's row returning ``value``, which must be refused."""
    cells = cells_of(row_format.line(7, "ok", START, 0.5, "", value))
    assert (cells["status"], row_format.refused) == ("error", [7])
    return cells["error"]


@pytest.mark.parametrize(
    ("columns", "value"),
    [(("value",), 10**5000), (("x",), {"x": 10**5000}), (("a", "b"), {"a": 1, "b": 10**5000})],
    ids=["scalar", "dict", "dict-of-two"],
)
def test_an_int_too_long_for_text_makes_an_error_row_saying_why(
    columns: tuple[str, ...], value: object
) -> None:
    assert error_of(RowFormat("alpha", columns, (), Labels()), value) == TOO_LONG_INT


def test_a_value_whose_str_raises_makes_an_error_row_saying_why() -> None:
    error = error_of(RowFormat("alpha", ("x",), (), Labels()), {"x": StrRaises()})
    assert error == (
        "the job's result cannot be written as text: str() of a StrRaises value in it raised"
        " RuntimeError: no text for you; return plain values"
    )


def test_a_value_that_pickles_but_does_not_unpickle_makes_an_error_row() -> None:
    error = error_of(RowFormat("alpha", ("x",), (), Labels()), {"x": DoesNotUnpickle()})
    assert error == (
        "the job's result cannot be sent from its worker: a DoesNotUnpickle value in it does"
        " not unpickle (RuntimeError: cannot be rebuilt here); return plain values"
    )


def test_a_list_holding_an_int_too_long_for_text_is_refused() -> None:
    with pytest.raises(RefusedValue, match=r"str\(\) of a list value in it raised ValueError"):
        named_cells({"x": [1, 10**5000]}, ())


def test_an_object_that_raises_anything_is_refused_not_raised() -> None:
    class Odd(dict[str, int]):
        def items(self) -> object:
            raise KeyError("surprise")

    with pytest.raises(RefusedValue, match=r"cannot be written as text \(KeyError: 'surprise'\)"):
        named_cells(Odd(a=1), ())


def test_keys_that_name_one_column_are_refused_naming_both() -> None:
    with pytest.raises(RefusedValue) as refused:
        named_cells({1: "int key", "1": "str key"}, ())
    assert str(refused.value) == (
        "the job returned the keys 1 and '1', which both name the column '1';"
        " make the keys distinct"
    )


def test_keys_that_name_one_column_make_an_error_row_once_the_header_is_fixed() -> None:
    row_format = RowFormat("alpha", ("1",), (), Labels())
    error = error_of(row_format, {1: "int key", "1": "str key"})
    assert error.startswith("the job returned the keys 1 and '1', which both name the column")


def test_a_declared_column_named_like_a_numbered_value_is_refused() -> None:
    with pytest.raises(RefusedValue, match="columns names 'value_2', the name splitter gives"):
        named_cells(("a", "b"), ("value_2",))


def test_a_row_is_measured_in_bytes_as_written_not_in_characters() -> None:
    row_format = RowFormat("alpha", ("s",), (), Labels())
    fits = "é" * (MAX_ROW_BYTES // 2 - 200)  # two bytes a character in UTF-8
    assert cells_of(row_format.line(1, "ok", START, 0.5, "", {"s": fits}))["status"] == "ok"
    error = error_of(row_format, {"s": "é" * (MAX_ROW_BYTES // 2)})
    assert error.startswith("the job's result makes a row of 3,145,8")
    assert error.endswith(
        f" bytes, more than the {MAX_ROW_BYTES:,} a row may hold; write large outputs to files"
        " and return their paths"
    )


def test_an_error_message_is_cut_to_error_chars() -> None:
    row_format = RowFormat("alpha", (), (), Labels())
    cells = cells_of(row_format.line(1, "error", START, 0.5, "e" * (ERROR_CHARS + 5), None))
    assert cells["error"] == "e" * ERROR_CHARS + "… (5 characters cut)"


def test_the_longest_row_and_any_error_row_fit_in_one_frame() -> None:
    # What an error row adds to its (empty) job cells: the base columns, a capped error
    # and input (6 bytes a character at most) and a machine name (a folder name).
    base = 20 + 255 + 7 + 2 * 24 + 6 * (ERROR_CHARS + 40) + 32 + 6 * INPUT_CHARS + 20
    assert MAX_ROW_BYTES + base <= MAX_FRAME_BYTES
    assert rowformat.MAX_ROW_BYTES <= MAX_FRAME_BYTES - (1 << 20)  # room for merge's padding
