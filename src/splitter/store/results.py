"""Write and read OUT/<machine>/results.csv.zst: one CSV row per job attempt, in zstd frames.

Layout: a header line (`BASE_COLUMNS`, the job's columns, `extra`) then one
row per attempt, default CSV dialect with '\\n' line ends, compressed one frame
per flush (see `splitter.store.frames`). The job columns are fixed by the first
frame of a file; values under any later column go into `extra` as a JSON
object of cell texts, so nothing a job returns is dropped.

The writer lives in the runner's busy parent process: `add` only formats a row
into a text buffer, and `flush` compresses the buffered rows as one frame.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from splitter.errors import ConfigError
from splitter.store.celltypes import UNKNOWN, ColumnKinds, parse_cell
from splitter.store.frames import CorruptFileError, FrameReader, FrameWriter, line_pieces
from splitter.store.rowformat import (
    BASE_COLUMNS,
    EXTRA_COLUMN,
    RESERVED,
    STATUSES,
    JobLabels,
    RefusedValue,
    RowFormat,
    csv_field,
    named_cells,
    oversized,
    value_kinds,
)
from splitter.store.shield import atomic
from splitter.store.typesfile import TYPES_NAME, Kinds, read_types, write_types

__all__ = [
    "BASE_COLUMNS",
    "EXTRA_COLUMN",
    "RESULTS_NAME",
    "STATUSES",
    "ResultsReader",
    "ResultsWriter",
    "parse_cell",
    "recorded_outcomes",
]

logger = logging.getLogger(__name__)

KEY_HEX_DIGITS = 32
_KEY = BASE_COLUMNS.index("job_key")

RESULTS_NAME = "results.csv.zst"

# Readers take any cell a writer wrote: csv's default field limit (128 KiB) would
# make a folder unreadable after one large result. Rows are capped on write
# (MAX_ROW_BYTES), frames on read; the limit is the largest a C long takes everywhere.
csv.field_size_limit(2**31 - 1)


class ResultsWriter:
    """Append job attempts to a results file; resuming keeps the file's header.

    Callers run `splitter.store.frames.repair_tail(path)` first on an existing file.
    The owner calls `flush` at least every second; `close` flushes and fsyncs.
    The header's job columns are the declared ones, else those of the first
    attempt that returned any (with those of the failures buffered before it).
    Beside it, results.types.json keeps the kinds of the job columns' values
    (`splitter.store.typesfile`), rewritten only when a new kind shows up.
    """

    def __init__(
        self,
        path: Path,
        machine: str,
        declared_columns: tuple[str, ...] | None,
        labels: JobLabels,
        level: int = 3,
    ) -> None:
        self.path = path
        self._machine = machine
        self._labels = labels
        self._declared = _checked_declared(declared_columns)
        existing = ResultsReader(path).header if path.exists() else ()
        self._types = path.with_name(TYPES_NAME)
        recorded = read_types(self._types)
        # A file written before kinds were kept stays without them: its old rows' are unknown.
        self._typed = recorded is not None or not existing
        self._types_due = self._typed and recorded is None
        self._kinds = ColumnKinds(recorded)
        self._frames = FrameWriter(path, level)
        self._text = io.StringIO()
        # Rows added before the header is fixed, which have no job cells: their first columns.
        self._early: list[str] = []
        self._early_format = RowFormat(machine, (), self._declared, labels, self._kinds)
        self._format: RowFormat | None = None
        self._pending = 0
        self._copied_unknown = False
        if existing or self._declared:
            columns = existing[len(BASE_COLUMNS) : -1] if existing else self._declared
            self._fix_header(
                RowFormat(machine, columns, self._declared, labels, self._kinds),
                write=not existing,
            )

    @property
    def pending(self) -> int:
        """Rows added since the last flush."""
        return self._pending

    @property
    def columns(self) -> tuple[str, ...] | None:
        """The job columns once the header is fixed (workers then format their own rows)."""
        return None if self._format is None else self._format.columns

    def add(
        self,
        job_id: int,
        status: str,
        start_time: float,
        duration: float,
        error: str,
        value: object,
    ) -> str:
        """Buffer one attempt's row (O(1), no I/O); return the status recorded.

        That is ``status``, or "error" when the return value cannot be stored
        (see `splitter.store.rowformat.named_cells`, `RowFormat`): the row then says why.
        """
        row_format = self._format
        if row_format is None:
            try:
                cells = named_cells(value, self._declared)
            except RefusedValue as exc:
                status, error, cells = "error", str(exc), {}
                logger.error("job %d failed: %s", job_id, exc)
            line = self._early_format.base(job_id, status, start_time, duration, error)
            if not cells:
                self._early.append(line)
                self._pending += 1
                return status
            # The first attempt that returned columns fixes the header, unless it is refused.
            row_format = RowFormat(
                self._machine, tuple(cells), self._declared, self._labels, self._kinds
            )
            text = row_format.line_with_cells(line, cells)
            problem = oversized(text)
            if problem is not None:
                self._early.append(
                    self._early_format.base(job_id, "error", start_time, duration, problem)
                )
                self._pending += 1
                logger.error("job %d failed: %s", job_id, problem)
                return "error"
            self._kinds.add_all(value_kinds(value, self._declared))
            self._fix_header(row_format)
        else:
            text = row_format.line(job_id, status, start_time, duration, error, value)
        self._text.write(text)
        self._pending += 1
        if row_format.refused:
            row_format.refused.clear()
            return "error"
        return status

    def add_copied(self, job_id: int, cells: dict[str, str], origin: str) -> bool:
        """Buffer an ok row copied from another folder as job ``job_id``, marked with ``origin``.

        ``cells`` names every cell of the row (its base columns and the job's);
        the outcome and the values are kept as they were written there. False
        (nothing buffered) when the row would take more than a row may here.
        """
        base = [
            str(job_id), cells.get("machine", ""), "ok", cells.get("start_time", ""),
            cells.get("duration", ""), "", cells.get("job_key", ""), "", origin,
        ]  # fmt: skip
        values = {name: text for name, text in cells.items() if name not in RESERVED}
        if self._copied_unknown:
            self._kinds.add_all((name, UNKNOWN) for name in values)
        line = ",".join(map(csv_field, base))
        row_format = self._format
        if row_format is None and not values:
            self._early.append(line)
        else:
            if row_format is None:
                row_format = RowFormat(
                    self._machine, tuple(values), self._declared, self._labels, self._kinds
                )
            text = row_format.line_with_cells(line, values)
            if oversized(text) is not None:
                return False
            if self._format is None:
                self._fix_header(row_format)
            self._text.write(text)
        self._pending += 1
        return True

    def add_text(self, text: str, rows: int, kinds: Iterable[tuple[str, str]] = ()) -> None:
        """Buffer rows a worker formatted with this file's `columns`; ``kinds``: new in them."""
        assert self._format is not None, "rows formatted before the header was fixed"
        self._text.write(text)
        self._pending += rows
        if kinds:
            self._kinds.add_all(kinds)

    def adopt_kinds(self, kinds: Kinds | None) -> None:
        """Take the kinds of the folder whose rows `add_copied` adds next (None: it kept none)."""
        self._copied_unknown = kinds is None
        if kinds is not None:
            self._kinds.add_all((name, kind) for name, held in kinds.items() for kind in held)

    def flush(self) -> int:
        """Write the pending rows (after the header in a new file); return how many.

        They go out as frames of whole rows (see `splitter.store.frames.line_pieces`),
        all of them or, when a write fails, none: then they stay pending and the
        error is raised.
        """
        if self._format is None and self._early:
            self._fix_header(
                RowFormat(self._machine, (), self._declared, self._labels, self._kinds)
            )
        if not self._pending:
            return 0
        if self._typed and (self._kinds.fresh or self._types_due):
            write_types(self._types, self._kinds)  # before the rows it covers
            self._kinds.take()
            self._types_due = False
        payload = self._text.getvalue().encode("utf-8", "backslashreplace")
        with atomic():  # written and forgotten together: a signal must not write it twice
            self._frames.write_frames(line_pieces(payload, csv=True))
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

    def _fix_header(self, row_format: RowFormat, *, write: bool = True) -> None:
        """Take ``row_format``'s columns as the file's; write the header and the early rows."""
        self._format = row_format
        if write:
            self._text.write(row_format.header())
        for line in self._early:
            self._text.write(row_format.line_with_cells(line, {}))
        self._early.clear()


def _checked_declared(declared: tuple[str, ...] | None) -> tuple[str, ...]:
    names = declared or ()
    for name in names:
        if name in RESERVED or names.count(name) > 1:
            raise ConfigError(
                f"[results] columns lists {name!r} twice or as one of splitter's own columns"
                f" ({', '.join(sorted(RESERVED))}); rename it in the config"
            )
    return names


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
                f" {text[:80].partition(chr(10))[0]!r}); is it a results.csv.zst written by"
                " splitter?"
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


def recorded_outcomes(path: Path) -> dict[str, str]:
    """job_key -> best recorded status: ok beats any failure, else the latest attempt's.

    Keyed by job key, not job id, so a folder of an earlier plan of the same
    campaign (another pool or machines.json) tells which jobs are done.
    """
    best: dict[str, str] = {}
    reader = ResultsReader(path)
    for number, row in enumerate(reader, 1):
        key, status = row[_KEY], row[2]
        if len(key) != KEY_HEX_DIGITS or status not in STATUSES:
            problem = f"has job_key {key!r} and status {status!r}"
            raise _bad_row(path, number, f"{problem}, not a key of 32 hex digits and a status")
        if best.get(key) != "ok":
            best[key] = status
    if reader.damage is not None:
        logger.warning("%s: %s; the jobs in that part run again", path, reader.damage)
    return best
