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
import sys
from collections.abc import Iterable, Mapping
from typing import Protocol

from splitter.store.celltypes import ColumnKinds, kind_of

__all__ = [
    "BASE_COLUMNS",
    "ERROR_CHARS",
    "EXTRA_COLUMN",
    "FAILED_STATUSES",
    "INPUT_CHARS",
    "MAX_ROW_BYTES",
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
    "oversized",
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
# The most bytes one row may take as written (UTF-8, quotes and separators included);
# a larger result is recorded as an error row, never written out of reach of
# readers. Half of frames.MAX_FRAME_BYTES, the longest line a reader takes: the rest
# is room for what `merge` adds to a row (its job id, empty cells of other hosts'
# columns) and for error rows, whose cells are bounded (ERROR_CHARS, INPUT_CHARS).
MAX_ROW_BYTES = 3 << 20
# The most characters of a failed job's input kept in its row's ``input`` cell.
INPUT_CHARS = 1000
# The most characters of an error message kept in a row's ``error`` cell.
ERROR_CHARS = 10_000
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

    A return value that cannot be stored (see `named_cells`), or whose row
    would take more than MAX_ROW_BYTES, becomes an error row with the reason;
    its job id is added to ``refused`` for the caller's tally, which clears
    the list, and logged as the job's failure. ``labels`` gives each job's key
    and input. ``kinds`` notes the kinds of the values each column holds (see
    `splitter.store.celltypes`): once per new kind, so a row whose cells have
    the types of the row before costs one comparison.
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
        try:
            text = self._plain_line(line, value)
        except ValueError:  # an int of more digits than Python turns into text
            text = None  # named_cells says why
        if text is not None:
            return text
        try:
            named = named_cells(value, self._declared)
        except RefusedValue as exc:
            self.refused.append(job_id)
            log.error("job %d failed: %s", job_id, exc)
            return self.refused_line(job_id, start_time, duration, str(exc))
        text = self.finish(job_id, start_time, duration, line, named)
        if not self.refused or self.refused[-1] != job_id:
            self.kinds.add_all(value_kinds(value, self._declared))
        return text

    def _plain_line(self, line: str, value: object) -> str | None:
        """The common cases, kept cheap: a number, or a dict of one plain value per column."""
        if self._scalar and (type(value) is int or type(value) is float):
            text = f"{line},{value if type(value) is int else repr(value)},\n"
            if (type(value),) != self._seen:
                self._note_plain((type(value),))
            return text
        if type(value) is dict and len(value) == self._width and value.keys() <= self._column_set:
            values = list(map(value.get, self.columns))
            types = tuple(map(type, values))
            if _PLAIN.issuperset(types):
                cells = ",".join(map(str, values))
                if not _QUOTED.search(cells) and cells.count(",") == self._width - 1:
                    text = f"{line},{cells},\n"
                    if oversized(text) is not None:
                        return None
                    if types != self._seen:
                        self._note_plain(types)
                    return text
        return None

    def _note_plain(self, types: tuple[type, ...]) -> None:
        """Note the kinds of a row of plain values whose types differ from the row before."""
        names = self.columns if len(types) == self._width else self.columns[:1]
        self.kinds.add_all(zip(names, map(_PLAIN_KINDS.__getitem__, types), strict=True))
        self._seen = types

    def finish(
        self, job_id: int, start_time: float, duration: float, line: str, cells: dict[str, str]
    ) -> str:
        """``line`` (from `base`) with its cells; the error row instead if it would be too long."""
        text = self.line_with_cells(line, cells)
        problem = oversized(text)
        if problem is None:
            return text
        self.refused.append(job_id)
        log.error("job %d failed: %s", job_id, problem)
        return self.refused_line(job_id, start_time, duration, problem)

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
            if len(error) > ERROR_CHARS:
                error = f"{error[:ERROR_CHARS]}… ({len(error) - ERROR_CHARS:,} characters cut)"
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

    Raises RefusedValue for keys named like splitter's own columns, for two
    keys that name one column (``1`` and ``"1"``), for a value that cannot
    travel from a worker (it does not pickle, or unpickle) and for one whose
    text cannot be made (its ``str()`` raises; an int too long for ``str``).
    """
    if value is None:
        return {}
    try:
        cells = _cells(value, declared)
    except RefusedValue:
        raise
    except Exception as exc:  # a user's __str__, items() or tolist() may raise anything
        raise RefusedValue(
            f"the job's result cannot be written as text ({_problem(exc)}); return plain values"
        ) from None
    taken = sorted(RESERVED.intersection(cells))
    if taken:
        raise RefusedValue(
            f"the job returned keys named like splitter's own columns ({', '.join(taken)});"
            f" rename them: {', '.join(sorted(RESERVED))} are reserved"
        )
    return cells


def _cells(value: object, declared: tuple[str, ...]) -> dict[str, str]:
    if isinstance(value, Mapping):
        keys: dict[str, object] = {}
        cells: dict[str, str] = {}
        for key, item in value.items():
            name = str(key)
            if name in keys:
                raise RefusedValue(
                    f"the job returned the keys {describe_input(keys[name])} and"
                    f" {describe_input(key)}, which both name the column {name!r};"
                    " make the keys distinct"
                )
            keys[name] = key
            cells[name] = cell_text(item)
        return cells
    if isinstance(value, tuple | list):
        names = _sequence_names(declared, len(value))
        cells = dict(zip(names, map(cell_text, value), strict=False))
        if len(cells) < min(len(names), len(value)):
            twice = next(name for name in names if names.count(name) > 1)
            raise RefusedValue(
                f"[results] columns names {twice!r}, the name splitter gives to another of"
                " the job's values; rename that column"
            )
        return cells
    return {declared[0] if declared else "value": cell_text(value)}


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

    Any other object is stored as its ``str()``, once it is known to travel
    between processes (RefusedValue if not), so the outcome never depends on
    where a row was formatted: in the worker, or in the parent after the
    value travelled. A value whose text cannot be made raises RefusedValue; a
    user's object may raise anything else (from its ``tolist()``, say), which
    `named_cells` turns into RefusedValue.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        try:
            return str(int(value))
        except ValueError:  # more digits than sys.get_int_max_str_digits()
            raise RefusedValue(
                f"the job's result holds an int of more than {sys.get_int_max_str_digits():,}"
                " digits, which Python does not turn into text; return it as a str"
            ) from None
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


def oversized(text: str) -> str | None:
    """The error of a row whose ``text`` takes more than MAX_ROW_BYTES on disk; None if it fits."""
    # Up to 6 bytes a character (an unpaired surrogate, escaped): most rows need no count.
    if len(text) <= MAX_ROW_BYTES // 6:
        return None
    size = len(text) if text.isascii() else len(text.encode("utf-8", "backslashreplace"))
    if size <= MAX_ROW_BYTES:
        return None
    return (
        f"the job's result makes a row of {size:,} bytes, more than the {MAX_ROW_BYTES:,}"
        " a row may hold; write large outputs to files and return their paths"
    )


def _json_default(value: object) -> object:
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else _object_text(value)


def _object_text(value: object) -> str:
    kind = type(value).__name__
    try:
        data = pickle.dumps(value)
    except Exception as exc:
        raise RefusedValue(
            f"the job's result cannot be sent from its worker: a {kind} value in it does not"
            f" pickle ({_problem(exc)}); return plain values"
        ) from None
    try:
        pickle.loads(data)
    except Exception as exc:
        raise RefusedValue(
            f"the job's result cannot be sent from its worker: a {kind} value in it does not"
            f" unpickle ({_problem(exc)}); return plain values"
        ) from None
    try:
        return str(value)
    except Exception as exc:
        raise RefusedValue(
            f"the job's result cannot be written as text: str() of a {type(value).__name__}"
            f" value in it raised {_problem(exc)}; return plain values"
        ) from None


def _problem(exc: BaseException) -> str:
    """``ValueError: why`` on one line, even when the exception's own text raises."""
    try:
        text = f"{type(exc).__name__}: {exc}"
    except Exception:
        text = type(exc).__name__
    return " ".join(text.split())
