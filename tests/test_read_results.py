"""splitter.read_results: a host or merged folder back in Python, every column typed as returned.

Each documented return value (a dict of every kind of value, a tuple, a
scalar, None) is run for real (spawned workers), then read back with pandas
and, in a subprocess where pandas cannot be imported, as a list of dicts.
"""

from __future__ import annotations

import math
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import splitter
import typed_jobs
from conftest import run_module, write_configs
from splitter.store.results import ResultsReader
from splitter.store.rowformat import BASE_COLUMNS as BASE
from splitter.store.typesfile import TYPES_NAME

NO_PANDAS = "pandas (the 'pandas' extra) is not installed"

POOL = range(5)
JOBS: dict[str, Callable[[int], Any]] = {
    "dict": typed_jobs.dict_of_every_kind,
    "tuple": typed_jobs.a_tuple,
    "scalar": typed_jobs.a_scalar,
    "none": typed_jobs.nothing,
}
TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each job run over POOL on two workers: shape -> its host folder."""
    root = tmp_path_factory.mktemp("typed")
    configs = write_configs(root / "configs")
    found = {}
    for shape, job in JOBS.items():
        summary = splitter.run_jobs(job, POOL, configs=configs, out=root / shape, workers=2)
        assert summary.exit_code == 0
        found[shape] = root / shape / "all"
    return found


def expected_cells(shape: str, item: int) -> dict[str, Any]:
    """What a row of ``item`` holds in the job's columns, as read back."""
    value = JOBS[shape](item)
    if shape == "dict":
        return {name: _plain(cell) for name, cell in value.items()}
    if shape == "tuple":
        return {f"value_{i}": cell for i, cell in enumerate(value, 1)}
    return {} if value is None else {"value": value}


def _plain(value: Any) -> Any:
    """A returned value as it reads back: NumPy scalars as Python's, a dict's tuples as lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {
            key: list(item) if isinstance(item, tuple) else item for key, item in value.items()
        }
    return value


def same(read: Any, expected: Any) -> bool:
    """Equal values of the same type; arrays of the same dtype; NaN equals NaN."""
    if isinstance(expected, np.ndarray):
        return (
            isinstance(read, np.ndarray)
            and read.dtype == expected.dtype
            and np.array_equal(read, expected)
        )
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(read, float) and math.isnan(read)
    return type(read) is type(expected) and read == expected


def records_without_pandas(folder: Path) -> list[dict[str, Any]]:
    """read_results(folder) in a Python where `import pandas` fails."""
    code = (
        "import pickle, sys\n"
        "sys.modules['pandas'] = None\n"
        "import splitter\n"
        f"sys.stdout.buffer.write(pickle.dumps(splitter.read_results({str(folder)!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=120, cwd=TESTS, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    records: list[dict[str, Any]] = pickle.loads(done.stdout)
    return records


def check_records(records: list[dict[str, Any]], shape: str) -> None:
    assert sorted(row["job_id"] for row in records) == list(POOL)
    for row in records:
        expected = expected_cells(shape, row["job_id"])
        job_columns = {name: row[name] for name in row if name not in BASE}
        assert job_columns.keys() == expected.keys()
        wrong = {
            name: (job_columns[name], cell)
            for name, cell in expected.items()
            if not same(job_columns[name], cell)
        }
        assert wrong == {}, row["job_id"]
        assert (row["status"], row["machine"], row["error"]) == ("ok", "all", None)
        assert type(row["start_time"]) is float and type(row["job_id"]) is int


@pytest.mark.parametrize("shape", list(JOBS))
def test_read_results_without_pandas_gives_dicts_of_the_values_the_jobs_returned(
    folders: dict[str, Path], shape: str
) -> None:
    check_records(records_without_pandas(folders[shape]), shape)


@pytest.mark.parametrize("shape", list(JOBS))
def test_read_results_with_pandas_gives_a_frame_of_the_values_the_jobs_returned(
    folders: dict[str, Path], shape: str
) -> None:
    pd = pytest.importorskip("pandas", reason=NO_PANDAS)
    frame = splitter.read_results(folders[shape])
    assert isinstance(frame, pd.DataFrame)
    records = [
        {name: _from_pandas(pd, cell) for name, cell in row.items()}
        for row in frame.to_dict("records")
    ]
    assert sorted(row["job_id"] for row in records) == list(POOL)
    for row in records:
        expected = {
            name: None if isinstance(cell, float) and math.isnan(cell) else cell
            for name, cell in expected_cells(shape, row["job_id"]).items()
        }
        wrong = {
            name: (row[name], cell) for name, cell in expected.items() if not same(row[name], cell)
        }
        assert wrong == {}, row["job_id"]


def _from_pandas(pd: Any, cell: Any) -> Any:
    """A DataFrame cell as a plain value: NumPy scalars as Python's, a missing one as None."""
    if isinstance(cell, np.ndarray | list | tuple | dict):
        return cell
    if cell is None or cell is pd.NA or (isinstance(cell, float) and math.isnan(cell)):
        return None
    return cell.item() if isinstance(cell, np.generic) else cell


def test_read_results_types_each_column_of_a_frame_by_what_the_job_returned(
    folders: dict[str, Path],
) -> None:
    pd = pytest.importorskip("pandas", reason=NO_PANDAS)
    frame = splitter.read_results(folders["dict"])
    dtypes = {name: str(frame[name].dtype) for name in ("i", "f", "b", "np_int", "np_bool")}
    # Item 2 returned None everywhere: ints and bools keep their type with a gap (<NA>).
    assert dtypes == {"i": "Int64", "f": "float64", "b": "boolean", "np_int": "Int64",
                      "np_bool": "boolean"}  # fmt: skip
    assert pd.api.types.is_string_dtype(frame["s"])
    assert str(frame["job_id"].dtype) == "int64"
    assert str(frame["start_time"].dtype) == "float64"
    text = frame.set_index("job_id")["s"]
    assert text[0] == "42"  # a str that looks like a number stays a str


def test_a_folder_written_before_kinds_were_kept_reads_by_the_rules_of_parse_cell(
    folders: dict[str, Path], tmp_path: Path
) -> None:
    import shutil

    old = shutil.copytree(folders["dict"], tmp_path / "old")
    (old / TYPES_NAME).unlink()
    rows = {row["job_id"]: row for row in records_without_pandas(old)}
    assert rows[0]["s"] == 42  # no record of its kind: a number's text reads as a number
    assert rows[1]["array"] == "[0.0, 0.25]"
    assert rows[1]["i"] == 0 and rows[2]["i"] is None


def test_a_merged_folder_reads_as_its_hosts_did(folders: dict[str, Path], tmp_path: Path) -> None:
    host = folders["dict"]
    for plain in (False, True):
        out = tmp_path / f"merged-{plain}"
        merged = run_module(
            ["merge", str(host), "--out", str(out), *(["--plain"] if plain else [])], tmp_path
        )
        assert merged.returncode == 0, merged.stderr
        assert (out / TYPES_NAME).exists()
        check_records(records_without_pandas(out), "dict")


def test_merge_parquet_writes_results_parquet_with_typed_columns(
    folders: dict[str, Path], tmp_path: Path
) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow (the 'parquet' extra) is absent")
    done = run_module(
        ["merge", str(folders["dict"]), "--out", str(tmp_path / "m"), "--parquet"], tmp_path
    )
    assert done.returncode == 0, done.stderr
    table = pq.read_table(tmp_path / "m" / "results.parquet")
    types = {name: str(table.schema.field(name).type) for name in table.schema.names}
    assert {name: types[name] for name in ("job_id", "i", "f", "b", "s", "np_int")} == {
        "job_id": "int64", "i": "int64", "f": "double", "b": "bool", "s": "string",
        "np_int": "int64",
    }  # fmt: skip
    pa = pytest.importorskip("pyarrow")
    fields = table.schema
    assert fields.field("array").type.value_type == pa.float32()
    assert fields.field("matrix").type.value_type.value_type == pa.int64()
    assert (types["list"], types["dict"], types["pair"]) == ("string", "string", "string")
    rows = {row["job_id"]: row for row in table.to_pylist()}
    assert (rows[0]["s"], rows[1]["array"], rows[2]["i"]) == ("42", [0.0, 0.25], None)
    assert rows[1]["dict"] == '{"a": 1, "b": [true, null]}'


def test_merge_parquet_without_pyarrow_says_so_in_one_sentence(
    folders: dict[str, Path], tmp_path: Path
) -> None:
    code = (
        "import sys\n"
        "sys.modules['pyarrow'] = None\n"
        "from splitter.cli import console_main\n"
        f"console_main(['merge', {str(folders['dict'])!r}, '--out', 'm', '--parquet'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        "splitter: error: merge --parquet needs pyarrow, which is not installed; pip install"
        " 'splitter[parquet]', or merge without --parquet\n"
    )
    assert not (tmp_path / "m").exists()


def test_keys_that_came_after_the_header_come_back_as_typed_columns(tmp_path: Path) -> None:
    # The declared columns fix the header at x: every "late" cell goes to `extra`.
    configs = write_configs(tmp_path / "configs", config="[results]\ncolumns = x\n")
    splitter.run_jobs(typed_jobs.late_keys, range(6), configs=configs, out=tmp_path, workers=2)
    assert ResultsReader(tmp_path / "all" / "results.csv.zst").header[len(BASE) :] == (
        "x", "extra",
    )  # fmt: skip
    rows = {row["job_id"]: row for row in records_without_pandas(tmp_path / "all")}
    assert {job: (row["x"], row["late"]) for job, row in rows.items()} == {
        0: (0, None), 1: (1, 0.5), 2: (2, None), 3: (3, 1.5), 4: (4, None), 5: (5, 2.5),
    }  # fmt: skip
    assert "extra" not in rows[0]


def test_a_folder_without_results_is_one_sentence_naming_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(splitter.UsageError) as caught:
        splitter.read_results(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path} holds no results.csv.zst or results.csv; pass a host folder"
        " (OUT/<machine>/) or a merged folder (merge --out)"
    )
