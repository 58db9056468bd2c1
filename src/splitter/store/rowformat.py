"""How one job attempt becomes one CSV line of results.csv.zst.

Pure and light to import: workers format their own rows with it once the
header is fixed, so the parent only appends text (see `splitter.run.runner`),
and the parent formats the few rows that arrive before that.
"""

from __future__ import annotations

import json
import logging
import pickle
import re
from collections.abc import Iterable, Mapping
from typing import Protocol

from splitter.store.celltypes import ColumnKinds, kind_of

__all__ = [
    "BASE_COLUMNS",
    "EXTRA_COLUMN",
    "FAILED_STATUSES",
    "INPUT_CHARS",
    "MAX_ROW_CHARS",
    "RESERVED",
    "STATUSES",
    "JobLabels",
    "RefusedValue",
    "RowFormat",
    "cell_text",
    "csv_field",
    "describe_input",
    "failure_pattern",
    "named_cells",
    "value_kinds",
]

BASE_COLUMNS = (
    "job_id", "machine", "status", "start_time", "duration", "error", "job_key", "input", "origin",
)  # fmt: skip
"""Every row's first columns. ``job_key`` names the job by content; ``input`` is a
failed job's input as text (empty for ok rows); ``origin`` says where a row
copied from another folder came from (empty for the rows run here)."""
EXTRA_COLUMN = "extra"
STATUSES = ("ok", "error", "crashed", "timeout")
FAILED_STATUSES = STATUSES[1:]
RESERVED = frozenset((*BASE_COLUMNS, EXTRA_COLUMN))
# The most characters a row's job cells may hold together (names and texts);
# a larger result is recorded as an error row, never written out of reach of readers.
MAX_ROW_CHARS = 1 << 24
# The most characters of a failed job's input kept in its row's ``input`` cell.
INPUT_CHARS = 1000
# Cell types whose str() is their cell text, and what a cell must not hold unquoted.
_PLAIN = frozenset((str, int, float, bool))
_PLAIN_KINDS = {str: "str", int: "int", float: "float", bool: "bool"}
_QUOTED = re.compile(r'["\r\n]')
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")

log = logging.getLogger("splitter.results")


class RefusedValue(ValueError):
    """A job's return value that cannot be stored as it is; the message says why and the fix."""


class JobLabels(Protocol):
    """What a row says of its job besides the outcome: its key, and its input as text."""

    def key_text(self, job_id: int) -> str:
        """The job's key, 32 hex digits."""
        ...

    def input(self, job_id: int) -> str:
        """The job's input as one line of text (`describe_input`), for a failed row."""
        ...


def failure_pattern(message: str) -> str:
    """An error text with every number (decimal, float, hex) replaced by N.

    Failures that differ only in their numbers (a job id, a chunk, an
    address) are one failure repeated: the console and the report group them.
    """
    return _NUMBER.sub("N", message)


def describe_input(value: object) -> str:
    """A job's input (its item, or ``key(item)``) as one line of at most INPUT_CHARS characters."""
    try:
        text = " ".join(repr(value).split())
    except Exception as exc:  # a user's __repr__ may raise; the row must still be written
        text = f"<{type(value).__name__} whose repr raised {type(exc).__name__}>"
    return text if len(text) <= INPUT_CHARS else text[: INPUT_CHARS - 1] + "…"


class RowFormat:
    """Formats attempts for a fixed header: BASE_COLUMNS, ``columns``, ``extra``.

    A return value that cannot be stored (see `named_cells`) becomes an error
    row with the reason; its job id is added to ``refused`` for the caller's
    tally, which clears the list, and logged as the job's failure. ``labels``
    gives each job's key and input. ``kinds`` notes the kinds of the values
    each column holds (see `splitter.store.celltypes`): once per new kind, so
    a row whose cells have the types of the row before costs one comparison.
    """

    def __init__(
        self,
        machine: str,
        columns: tuple[str, ...],
        declared: tuple[str, ...],
        labels: JobLabels,
        kinds: ColumnKinds | None = None,
    ) -> None:
        self.columns = columns
        self.refused: list[int] = []
        self.labels = labels
        self.kinds = ColumnKinds() if kinds is None else kinds
        self._seen: tuple[type, ...] = ()
        self._declared = declared
        self._column_set = frozenset(columns)
        self._width = len(columns)
        # job_id, machine, status, start_time, duration; `%` in a machine name is escaped.
        self._base = "%d," + csv_field(machine).replace("%", "%%") + ",%s,%.6f,%.6f,"
        # A scalar return value fills the one column `value` (or the single declared one).
        self._scalar = columns == ((declared or ("value",))[0],)

    def header(self) -> str:
        """The header line, with its line end."""
        return ",".join(map(csv_field, (*BASE_COLUMNS, *self.columns, EXTRA_COLUMN))) + "\n"

    def line(
        self,
        job_id: int,
        status: str,
        start_time: float,
        duration: float,
        error: str,
        value: object,
    ) -> str:
        """One attempt as a CSV line, with its line end."""
        line = self.base(job_id, status, start_time, duration, error)
        if self._scalar and (type(value) is int or type(value) is float):
            if (type(value),) != self._seen:
                self._note_plain((type(value),))
            return f"{line},{value if type(value) is int else repr(value)},\n"
        if type(value) is dict and len(value) == self._width and value.keys() <= self._column_set:
            # The common case, kept cheap: one value per column, none that needs quoting.
            values = list(map(value.get, self.columns))
            types = tuple(map(type, values))
            cells = ",".join(map(str, values))
            plain = _PLAIN.issuperset(types) and not _QUOTED.search(cells)
            if plain and cells.count(",") == self._width - 1 and len(cells) <= MAX_ROW_CHARS:
                if types != self._seen:
                    self._note_plain(types)
                return f"{line},{cells},\n"
        try:
            named = named_cells(value, self._declared)
        except RefusedValue as exc:
            self.refused.append(job_id)
            log.error("job %d failed: %s", job_id, exc)
            return self.refused_line(job_id, start_time, duration, str(exc))
        self.kinds.add_all(value_kinds(value, self._declared))
        return self.line_with_cells(line, named)

    def _note_plain(self, types: tuple[type, ...]) -> None:
        """Note the kinds of a row of plain values whose types differ from the row before."""
        names = self.columns if len(types) == self._width else self.columns[:1]
        self.kinds.add_all(zip(names, map(_PLAIN_KINDS.__getitem__, types), strict=True))
        self._seen = types

    def refused_line(self, job_id: int, start_time: float, duration: float, reason: str) -> str:
        """The error row of an attempt whose return value cannot be stored: no job cells."""
        line = self.base(job_id, "error", start_time, duration, reason)
        return line + "," * (self._width + 1) + "\n"

    def base(
        self, job_id: int, status: str, start_time: float, duration: float, error: str
    ) -> str:
        """The first columns of a line, up to ``origin`` (for rows whose cells come later)."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        if error:
            error = csv_field(error.replace("\r\n", " ").replace("\n", " ").replace("\r", " "))
        labels = self.labels
        described = "" if status == "ok" else csv_field(labels.input(job_id))
        fields = self._base % (job_id, status, start_time, duration)
        return f"{fields}{error},{labels.key_text(job_id)},{described},"

    def line_with_cells(self, line: str, cells: dict[str, str]) -> str:
        """The job cells in header order, then ``extra`` with what has no column."""
        placed = [cells.pop(name, "") for name in self.columns]
        placed.append(json.dumps(cells) if cells else "")
        return f"{line},{','.join(map(csv_field, placed))}\n"


def csv_field(text: str) -> str:
    """``text`` as one CSV field, quoted when it holds a delimiter, quote or line break.

    Unlike ``csv.writer`` with a '\\n' line terminator, this also quotes a bare
    '\\r', which csv readers (ours, pandas) take as the end of a record.
    """
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def named_cells(value: object, declared: tuple[str, ...]) -> dict[str, str]:
    """A job's return value as {column name: cell text} (see PRODUCT.md, "The user's code").

    Raises RefusedValue for keys named like splitter's own columns, for a
    value that cannot be pickled (it could not travel from a worker) and for
    cells of more than MAX_ROW_CHARS characters together.
    """
    if value is None:
        return {}
    if isinstance(value, Mapping):
        cells = {str(key): cell_text(item) for key, item in value.items()}
        taken = sorted(RESERVED.intersection(cells))
        if taken:
            raise RefusedValue(
                f"the job returned keys named like splitter's own columns ({', '.join(taken)});"
                f" rename them: {', '.join(sorted(RESERVED))} are reserved"
            )
    elif isinstance(value, tuple | list):
        names = _sequence_names(declared, len(value))
        cells = {name: cell_text(item) for name, item in zip(names, value, strict=False)}
    else:
        cells = {declared[0] if declared else "value": cell_text(value)}
    size = sum(len(name) + len(text) for name, text in cells.items())
    if size > MAX_ROW_CHARS:
        raise RefusedValue(
            f"the job's result is {size:,} characters as text, more than the"
            f" {MAX_ROW_CHARS:,} a row may hold; write large outputs to files and return"
            " their paths"
        )
    return cells


def value_kinds(value: object, declared: tuple[str, ...]) -> Iterable[tuple[str, str]]:
    """(column, kind) of each cell `named_cells` makes of a return value that it stores."""
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return [(str(key), kind_of(item)) for key, item in value.items()]
    if isinstance(value, tuple | list):
        return zip(_sequence_names(declared, len(value)), map(kind_of, value), strict=False)
    return (((declared or ("value",))[0], kind_of(value)),)


def _sequence_names(declared: tuple[str, ...], count: int) -> tuple[str, ...]:
    """Names of a tuple's values: the declared columns, then value_<position>."""
    return declared + tuple(f"value_{i}" for i in range(len(declared) + 1, count + 1))


def cell_text(value: object) -> str:
    """One value as cell text; `splitter.store.celltypes` reads it back (floats exactly, by repr).

    Any other object is stored as its ``str()``, once it is known to pickle
    (RefusedValue if not), so the outcome never depends on where a row was
    formatted: in the worker, or in the parent after the value travelled.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):  # also numpy.float64
        return repr(float(value))
    if isinstance(value, str):
        return str.__str__(value)
    tolist = getattr(value, "tolist", None)
    if type(value).__module__ == "numpy" and callable(tolist):
        return cell_text(tolist())  # NumPy scalar -> its Python equivalent; array -> list
    if isinstance(value, list | tuple | dict):
        try:
            return json.dumps(value, sort_keys=True, default=_json_default)
        except (TypeError, ValueError):  # unsortable or non-JSON keys, reference cycles
            return _object_text(value)
    return _object_text(value)


def _json_default(value: object) -> object:
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else _object_text(value)


def _object_text(value: object) -> str:
    try:
        pickle.dumps(value)
    except Exception as exc:
        problem = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise RefusedValue(
            f"the job's result cannot be sent from its worker: a {type(value).__name__} value"
            f" in it does not pickle ({problem}); return plain values"
        ) from None
    return str(value)
