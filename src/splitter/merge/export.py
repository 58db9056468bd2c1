"""Typed results for Python and for other tools: `read_results` and results.parquet.

    Table (merge.table) --as_frame--> pandas.DataFrame (with pandas installed)
                        --records--> a list of dicts (without)
                        --write_parquet--> results.parquet (with pyarrow installed)

pandas and pyarrow are optional extras, imported only here and only when asked for.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from splitter.errors import UsageError
from splitter.merge.table import Table, read_table

__all__ = ["as_frame", "read_results", "require_pyarrow", "write_parquet"]

_ARRAY = "array:"


def read_results(folder: str | Path) -> Any:
    """The results of a host or merged folder: a pandas DataFrame, else a list of dicts.

    Every column is typed as the job returned it: int, float, bool, str, a
    NumPy array, a list, a dict or a tuple; an empty cell (a None, an empty
    string, a failed row's values) is None, or missing (NaN, <NA>) in pandas.
    A host folder holds every attempt (a retried job has several rows); a
    merged folder every job once. A DataFrame comes back when pandas is
    installed (``pip install 'splitter[pandas]'``), else a list of dicts.
    """
    table = read_table(Path(folder))
    try:
        import pandas  # noqa: F401  (only whether it is there)
    except ImportError:
        return table.records()
    return as_frame(table)


def as_frame(table: Table) -> Any:
    """The table as a pandas DataFrame, each column of the dtype of its kinds."""
    import pandas as pd

    series = {name: _series(pd, cells, table.kinds[name]) for name, cells in table.columns.items()}
    return pd.DataFrame(series, columns=list(table.columns))


def _series(pd: Any, values: list[Any], kinds: frozenset[str] | None) -> Any:
    if kinds is None:
        return pd.Series(values)  # unknown kinds: pandas infers, as read_csv would
    gaps = any(value is None for value in values)
    if kinds == frozenset(("int",)):
        return pd.Series(values, dtype="Int64" if gaps else "int64")
    if kinds == frozenset(("bool",)):
        return pd.Series(values, dtype="boolean" if gaps else "bool")
    if kinds and kinds <= frozenset(("int", "float")):
        return pd.Series(values, dtype="float64")
    if kinds == frozenset(("str",)):
        return pd.Series(values)
    return pd.Series(values, dtype=object)


def require_pyarrow() -> None:
    """UsageError in one sentence when pyarrow, which writes results.parquet, is absent."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        where = (
            "which binaries leave out; merge under Python, where"
            if getattr(sys, "frozen", False)
            else "which is not installed;"
        )
        raise UsageError(
            f"merge --parquet needs pyarrow, {where} pip install 'splitter[parquet]',"
            " or merge without --parquet"
        ) from None


def write_parquet(path: Path, table: Table) -> None:
    """Write the table to ``path`` as Parquet, each column of its kinds' Arrow type.

    Columns of one kind get their type (int64, double, bool, string, a list
    of the array's dtype; ints and floats together: double); columns of lists,
    dicts or tuples, or of mixed kinds, are kept as their JSON or text.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = [_arrow(pa, values, table.kinds[name]) for name, values in table.columns.items()]
    pq.write_table(pa.table(arrays, names=list(table.columns)), path)


def _arrow(pa: Any, values: list[Any], kinds: frozenset[str] | None) -> Any:
    simple = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "str": pa.string()}
    if kinds is not None and len(kinds) == 1 and next(iter(kinds)) in simple:
        return pa.array(values, type=simple[next(iter(kinds))])
    if kinds == frozenset(("int", "float")):
        return pa.array([None if v is None else float(v) for v in values], type=pa.float64())
    arrays = bool(kinds) and all(kind.startswith(_ARRAY) for kind in kinds or ())
    if arrays or kinds is None:  # unknown kinds: what Arrow infers, if it can
        try:
            cells = [v.tolist() if hasattr(v, "tolist") else v for v in values]
            return pa.array(cells, type=_list_type(pa, values) if arrays else None)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass  # ragged arrays, mixed values: as text below
    return pa.array([_text(value) for value in values], type=pa.string())


def _list_type(pa: Any, arrays: list[Any]) -> Any:
    """Lists of the arrays' dtype nested as deep as their dimensions; None when arrays differ."""
    shapes = {(array.dtype, array.ndim) for array in arrays if array is not None}
    if len(shapes) != 1:
        return None
    dtype, ndim = shapes.pop()
    kind = pa.from_numpy_dtype(dtype)
    for _ in range(ndim):
        kind = pa.list_(kind)
    return kind


def _text(value: Any) -> str | None:
    """A value of a column of mixed or nested kinds, as the text its cell held."""
    if value is None or isinstance(value, str):
        return value
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, sort_keys=True)
    return str(value)
