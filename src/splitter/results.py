"""Write and read OUT/<machine>/results.csv.zst: one CSV row per job attempt, in zstd frames.

Layout: a header line (`BASE_COLUMNS`, the job's columns, `extra`) then one
row per attempt, default CSV dialect with '\\n' line ends, compressed one frame
per flush (see `splitter.frames`). The job columns are fixed by the first
frame of a file; values under any later column go into `extra` as a JSON
object of cell texts, so nothing a job returns is dropped.

The writer lives in the runner's busy parent process: `add` only formats a row
into a text buffer, and `flush` compresses the buffered rows as one frame.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from splitter.errors import ConfigError
from splitter.frames import CorruptFileError, FrameReader, FrameWriter

__all__ = [
    "BASE_COLUMNS",
    "EXTRA_COLUMN",
    "STATUSES",
    "ResultsReader",
    "ResultsWriter",
    "parse_cell",
    "recorded_outcomes",
]

logger = logging.getLogger(__name__)

BASE_COLUMNS = ("job_id", "machine", "status", "start_time", "duration", "error")
EXTRA_COLUMN = "extra"
STATUSES = ("ok", "error", "crashed", "timeout")
_RESERVED = frozenset((*BASE_COLUMNS, EXTRA_COLUMN))
# Cell types whose str() is their cell text (see _cell), and what a cell must not hold unquoted.
_PLAIN = frozenset((str, int, float, bool))
_QUOTED = re.compile(r'["\r\n]')
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|nan|inf)")


class ResultsWriter:
    """Append job attempts to a results file; resuming keeps the file's header.

    Callers run `splitter.frames.repair_tail(path)` first on an existing file.
    The owner calls `flush` at least every second; `close` flushes and fsyncs.
    """

    def __init__(
        self,
        path: Path,
        machine: str,
        declared_columns: tuple[str, ...] | None,
        level: int = 3,
    ) -> None:
        self.path = path
        self._declared = _checked_declared(declared_columns)
        existing = ResultsReader(path).header if path.exists() else ()
        self._frames = FrameWriter(path, level)
        # job_id, machine, status, start_time, duration; `%` in a machine name is escaped.
        self._base = "%d," + _csv_field(machine).replace("%", "%%") + ",%s,%.6f,%.6f,"
        self._text = io.StringIO()
        self._early: list[tuple[str, dict[str, str]]] = []  # rows added before the header
        self._columns: tuple[str, ...] = ()
        self._column_set: frozenset[str] = frozenset()
        self._width = -1  # the number of job columns, once fixed
        self._fixed = False
        self._pending = 0
        if existing:
            self._fix_header(existing[len(BASE_COLUMNS) : -1], write=False)
        elif self._declared:
            self._fix_header(self._declared, write=True)

    @property
    def pending(self) -> int:
        """Rows added since the last flush."""
        return self._pending

    def add(
        self,
        job_id: int,
        status: str,
        start_time: float,
        duration: float,
        error: str,
        value: object,
    ) -> None:
        """Buffer one attempt's row: O(1), no I/O and no compression."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        if error:
            error = _csv_field(error.replace("\r\n", " ").replace("\n", " ").replace("\r", " "))
        line = self._base % (job_id, status, start_time, duration) + error
        self._pending += 1
        if type(value) is dict and len(value) == self._width and value.keys() <= self._column_set:
            # The common case, kept cheap: one value per column, none that needs quoting.
            cells = ",".join(map(str, map(value.get, self._columns)))
            plain = _PLAIN.issuperset(map(type, value.values())) and not _QUOTED.search(cells)
            if plain and cells.count(",") == self._width - 1:
                self._text.write(f"{line},{cells},\n")
                return
        if self._fixed:
            self._write_row(line, _named_cells(value, self._declared))
        else:
            self._early.append((line, _named_cells(value, self._declared)))

    def flush(self) -> int:
        """Write the pending rows as one frame (after the header in a new file); return them."""
        if not self._fixed:
            if not self._early:
                return 0
            self._fix_from_early_rows()
        if not self._pending:
            return 0
        self._frames.write_frame(self._text.getvalue().encode("utf-8", "backslashreplace"))
        self._text.seek(0)
        self._text.truncate()
        rows, self._pending = self._pending, 0
        return rows

    def close(self) -> None:
        """Flush, fsync and close the file."""
        try:
            self.flush()
        finally:
            self._frames.close()

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _fix_header(self, columns: tuple[str, ...], *, write: bool) -> None:
        self._columns = columns
        self._column_set = frozenset(columns)
        self._width = len(columns)
        self._fixed = True
        if write:
            header = (*BASE_COLUMNS, *columns, EXTRA_COLUMN)
            self._text.write(",".join(map(_csv_field, header)) + "\n")

    def _fix_from_early_rows(self) -> None:
        """Header = union of the buffered rows' columns, first seen first; then write them."""
        names = (name for _, cells in self._early for name in cells if name not in _RESERVED)
        self._fix_header(tuple(dict.fromkeys(names)), write=True)
        for line, cells in self._early:
            self._write_row(line, cells)
        self._early.clear()

    def _write_row(self, line: str, cells: dict[str, str]) -> None:
        """The job cells in header order, then `extra` with what the header has no column for."""
        placed = [cells.pop(name, "") for name in self._columns]
        placed.append(json.dumps(cells) if cells else "")
        self._text.write(f"{line},{','.join(map(_csv_field, placed))}\n")


def _checked_declared(declared: tuple[str, ...] | None) -> tuple[str, ...]:
    names = declared or ()
    for name in names:
        if name in _RESERVED or names.count(name) > 1:
            raise ConfigError(
                f"[results] columns lists {name!r} twice or as one of splitter's own columns"
                f" ({', '.join(sorted(_RESERVED))}); rename it in the config"
            )
    return names


def _csv_field(text: str) -> str:
    """`text` as one CSV field, quoted when it holds a delimiter, quote or line break.

    Unlike `csv.writer` with a '\\n' line terminator, this also quotes a bare
    '\\r', which csv readers (ours, pandas) take as the end of a record.
    """
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _named_cells(value: object, declared: tuple[str, ...]) -> dict[str, str]:
    """A job's return value as {column name: cell text} (see PRODUCT.md, "The user's code")."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(key): _cell(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        names = declared + tuple(f"value_{i}" for i in range(len(declared) + 1, len(value) + 1))
        return {name: _cell(item) for name, item in zip(names, value, strict=False)}
    return {declared[0] if declared else "value": _cell(value)}


def _cell(value: object) -> str:
    """One value as cell text; `parse_cell` reads it back (floats exactly, by repr)."""
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
        return _cell(tolist())  # NumPy scalar -> its Python equivalent; array -> list
    if isinstance(value, list | tuple | dict):
        try:
            return json.dumps(value, sort_keys=True, default=_json_default)
        except (TypeError, ValueError):  # unsortable or non-JSON keys, reference cycles
            return str(value)
    return str(value)


def _json_default(value: object) -> object:
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else str(value)


class ResultsReader:
    """Stream the rows of a results file as lists of cell texts, in header order.

    `header` reads only the first frame; it is () for a file with no whole
    frame yet. After iteration, `rows` counts the rows and `damage` tells why
    reading stopped early (see `FrameReader`), None when the file ended cleanly.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self.damage: str | None = None
        self._header: tuple[str, ...] | None = None

    @property
    def header(self) -> tuple[str, ...]:
        """All column names: BASE_COLUMNS, the job's columns, `extra`."""
        if self._header is None:
            reader = FrameReader(self.path)
            frames = iter(reader)
            first = next(frames, None)
            frames.close()
            text = None if first is None else self._decode(first, reader.complete_bytes)
            self._header = () if text is None else self._parse_header(text)
        return self._header

    def __iter__(self) -> Iterator[list[str]]:
        frames = FrameReader(self.path)
        count = width = 0
        try:
            for payload in frames:
                rows = self._rows(self._decode(payload, frames.complete_bytes), width == 0)
                width = len(self.header)
                for row in rows:
                    count += 1
                    if len(row) != width:
                        raise _bad_row(self.path, count, f"has {len(row)} cells, not {width}")
                    yield row
        except csv.Error as exc:
            raise _bad_row(self.path, count + 1, f"is not valid CSV ({exc})") from exc
        finally:
            self.rows = count
        self.damage = frames.damage

    def _rows(self, text: str, first: bool) -> Iterator[list[str]]:
        rows = csv.reader(io.StringIO(text))
        if first:
            self._header = self._parse_header(text)
            next(rows)
        return rows

    def _parse_header(self, text: str) -> tuple[str, ...]:
        header = tuple(next(csv.reader(io.StringIO(text)), ()))
        if header[: len(BASE_COLUMNS)] != BASE_COLUMNS or header[-1:] != (EXTRA_COLUMN,):
            raise CorruptFileError(
                f"{self.path} has no splitter results header (its first line is"
                f" {text.partition(chr(10))[0]!r}); is it a results.csv.zst written by splitter?"
            )
        return header

    def _decode(self, payload: bytes, end: int) -> str:
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CorruptFileError(
                f"{self.path} holds bytes that are not UTF-8 in its frame ending at byte {end};"
                " restore the file splitter wrote there, or move this one aside"
            ) from exc


def _bad_row(path: Path, number: int, problem: str) -> CorruptFileError:
    return CorruptFileError(
        f"{path} row {number} {problem}; the file was edited or damaged,"
        " so restore the one splitter wrote or move it aside"
    )


def parse_cell(text: str) -> object:
    """A cell's text back as a typed value, for reduce functions.

    '' -> None; an integer literal ('42', '-7') -> int; a float literal
    ('1.5', '1e-07', 'nan', '-inf') -> float; 'True'/'False' -> bool; any other
    text stays a str. So a str that looks like a number comes back as one.
    """
    if not text:
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if text == "True" or text == "False":
        return text == "True"
    return text


def recorded_outcomes(path: Path) -> dict[int, str]:
    """job_id -> best recorded status: ok beats any failure, else the latest attempt's."""
    best: dict[int, str] = {}
    reader = ResultsReader(path)
    for number, row in enumerate(reader, 1):
        try:
            job_id = int(row[0])
        except ValueError:
            raise _bad_row(path, number, "has a job_id that is not an integer") from None
        if best.get(job_id) != "ok":
            best[job_id] = row[2]
    if reader.damage is not None:
        logger.warning("%s: %s; the jobs in that part run again", path, reader.damage)
    return best
