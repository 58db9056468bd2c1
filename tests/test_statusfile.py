"""disBatch's status file: the writer from merged rows and the parser, kept in step."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from splitter.errors import UsageError
from splitter.merge.statusfile import (
    FIELDS,
    HEADER,
    StatusLine,
    format_line,
    parse_line,
    read_status_file,
    status_lines,
    write_status_file,
)

# The example line of disBatch's README, field for field.
README_LINE = (
    "    \t314\t315\t-1\tworker032\t8016\t0\t10.0486528873\t1458660919.78\t1458660929.83\t0\t"
    '""\t0\t""\t\'cd /path/to/workdir ; myprog -a 3 -b 1 -c 4 > task_3_1_4.log 2>&1\''
)
HEADER_ROW = (
    "job_id", "machine", "status", "start_time", "duration", "error", "exit_code", "command",
    "line", "repeat_index", "task_id", "host", "pid", "out_bytes", "err_bytes", "extra",
)  # fmt: skip


def test_the_readme_example_line_parses_into_its_fifteen_fields() -> None:
    assert parse_line(README_LINE) == StatusLine(
        "    ", 314, 315, -1, "worker032", 8016, 0, 10.0486528873, 1458660919.78,
        1458660929.83, 0, "", 0, "",
        "'cd /path/to/workdir ; myprog -a 3 -b 1 -c 4 > task_3_1_4.log 2>&1'",
    )  # fmt: skip
    assert len(FIELDS) == 15


def test_merged_rows_become_lines_with_disbatch_flags_and_ids() -> None:
    rows = [
        ["0", "a", "ok", "100.0", "2.5", "", "0", "cd x ; true", "4", "-1", "0", "h1", "77",
         "0", "0", ""],
        ["1", "a", "error", "101.0", "1.0", "exit code 3", "3", "echo hi; exit 3", "6", "10",
         "2", "h1", "78", "3", "5", ""],
        ["2", "b", "crashed", "102.0", "0.5", "worker died", "", "sleep 9", "6", "11", "3",
         "", "", "", "", ""],
    ]  # fmt: skip
    lines = [format_line(line) for line in status_lines(HEADER_ROW, rows)]
    assert lines == [
        "    \t0\t4\t-1\th1\t77\t0\t2.500\t100.000\t102.500\t0\t''\t0\t''\tcd x ; true",
        "ROE \t2\t6\t10\th1\t78\t3\t1.000\t101.000\t102.000\t3\t''\t5\t''\techo hi; exit 3",
        "R   \t3\t6\t11\t\t-1\t-100\t0.500\t102.000\t102.500\t0\t''\t0\t''\tsleep 9",
    ]


def test_results_without_task_columns_are_refused_in_one_sentence() -> None:
    with pytest.raises(UsageError) as error:
        list(status_lines(("job_id", "machine", "status", "start_time", "duration", "error",
                           "value", "extra"), []))  # fmt: skip
    assert str(error.value) == (
        "--status-file is for task-file campaigns, and these results have no exit_code, "
        "command, line, repeat_index, task_id column; leave the option out for Python jobs"
    )


_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\t\n\r"))
_times = st.floats(0, 2e9).map(lambda x: round(x, 3))


@given(
    st.builds(
        StatusLine,
        st.sampled_from(["    ", "R   ", "ROE ", "B    "]),
        st.integers(0, 10**6),
        st.integers(1, 10**6),
        st.integers(-1, 10**6),
        _text,
        st.integers(-1, 10**6),
        st.integers(-255, 255),
        _times,
        _times,
        _times,
        st.integers(0, 10**9),
        st.text(),
        st.integers(0, 10**9),
        st.text(),
        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r")),
    )
)
def test_a_line_parses_back_to_what_was_written(line: StatusLine) -> None:
    assert parse_line(format_line(line)) == line


def test_a_status_file_reads_back_and_skips_disbatch_header(tmp_path: Path) -> None:
    path = tmp_path / "status.txt"
    path.write_text(HEADER + "\n" + README_LINE + "\n", encoding="utf-8")
    assert [line.task_id for line in read_status_file(path)] == [314]


def test_a_file_that_is_no_status_file_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text(README_LINE + "\nmy notes\n", encoding="utf-8")
    with pytest.raises(UsageError, match=rf"^{path}: line 2 is not a disBatch status line \("):
        read_status_file(path)


def _merged(tmp_path: Path) -> Path:
    results = tmp_path / "results.csv"
    row = "0,a,ok,100.0,2.5,,0,true,1,-1,0,h,7,0,0,\n"
    results.write_text(",".join(HEADER_ROW) + "\n" + row, encoding="utf-8")
    return results


def test_write_refuses_an_existing_file_and_with_force_replaces_only_a_status_file(
    tmp_path: Path,
) -> None:
    results, target, other = _merged(tmp_path), tmp_path / "s.txt", tmp_path / "notes.txt"
    assert write_status_file(results, target, force=False) == 1
    with pytest.raises(UsageError, match=r"s\.txt exists; pass --force to replace it"):
        write_status_file(results, target, force=False)
    assert write_status_file(results, target, force=True) == 1
    other.write_text("keep me\n")
    with pytest.raises(UsageError, match="it is not a status file: choose another path"):
        write_status_file(results, other, force=True)
    assert other.read_text() == "keep me\n"
    assert [line.command for line in read_status_file(target)] == ["true"]
