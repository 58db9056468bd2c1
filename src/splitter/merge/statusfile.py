"""disBatch's status file, written from a merged task campaign, and its parser beside it.

One tab-separated line per task, the fields of disBatch's README in its order:

    flags  task id  line  repeat index  host  pid  exit code  elapsed  start  finish
    leaked stdout bytes  stdout snippet  leaked stderr bytes  stderr snippet  command

``flags`` is four characters: ``R`` (non-zero exit), ``O`` and ``E`` (output
that was not redirected to a file: splitter logged it), then a blank. Times
have three decimals, snippets are Python literals (splitter writes ``''``:
the output itself is in the log), and the command comes last, so a tab in it
needs no quoting. Where a row cannot say (a task whose worker died after it
ended), the exit code is -100 and the pid -1, as disBatch writes for a task
whose end it did not see. Barriers have no row: they are not jobs.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from splitter.errors import UsageError
from splitter.merge.combine import merged_rows

__all__ = [
    "FIELDS",
    "HEADER",
    "StatusLine",
    "format_line",
    "parse_line",
    "read_status_file",
    "status_lines",
    "write_status_file",
]

HEADER = (
    "ROE[ PSZ]\tTaskID\tLineNum\tRepeatIndex\tNode\tPID\tReturnCode\tElapsed\tStart\t"
    "Finish\tBytesOfLeakedOutput\tOutputSnippet\tBytesOfLeakedError\tErrorSnippet\tCommand"
)
"""The header line disBatch writes with --status-header (skipped when read)."""
UNKNOWN_EXIT = -100
UNKNOWN_PID = -1
# The cells a results row of a task has beyond splitter's own (shelltask.TASK_COLUMNS).
_NEEDED = ("exit_code", "command", "line", "repeat_index", "task_id")


@dataclass(frozen=True)
class StatusLine:
    """One line of a status file, its fields typed."""

    flags: str
    task_id: int
    line: int
    repeat_index: int
    host: str
    pid: int
    exit_code: int
    elapsed: float
    start: float
    finish: float
    out_bytes: int
    out_snippet: str
    err_bytes: int
    err_snippet: str
    command: str


FIELDS = tuple(field.name for field in fields(StatusLine))


def format_line(status: StatusLine) -> str:
    """The line of ``status``, without its line end."""
    cells = [
        status.flags, str(status.task_id), str(status.line), str(status.repeat_index),
        status.host, str(status.pid), str(status.exit_code), f"{status.elapsed:.3f}",
        f"{status.start:.3f}", f"{status.finish:.3f}", str(status.out_bytes),
        repr(status.out_snippet), str(status.err_bytes), repr(status.err_snippet),
        status.command,
    ]  # fmt: skip
    return "\t".join(cells)


def parse_line(text: str) -> StatusLine:
    """A status line (its line end removed) as typed fields; ValueError if it is none."""
    cells = text.split("\t", len(FIELDS) - 1)
    if len(cells) != len(FIELDS) or len(cells[0]) < 4:
        raise ValueError(f"{len(cells)} tab-separated fields, not {len(FIELDS)}")
    snippets = [ast.literal_eval(cells[i]) for i in (11, 13)]
    if not all(isinstance(snippet, str) for snippet in snippets):
        raise ValueError("its snippets are not string literals")
    return StatusLine(
        cells[0], int(cells[1]), int(cells[2]), int(cells[3]), cells[4], int(cells[5]),
        int(cells[6]), float(cells[7]), float(cells[8]), float(cells[9]), int(cells[10]),
        snippets[0], int(cells[12]), snippets[1], cells[14],
    )  # fmt: skip


def status_lines(header: Iterable[str], rows: Iterable[list[str]]) -> Iterator[StatusLine]:
    """The status lines of merged results rows (cell texts under ``header``)."""
    names = tuple(header)
    missing = [name for name in _NEEDED if name not in names]
    if missing:
        raise UsageError(
            f"--status-file is for task-file campaigns, and these results have no "
            f"{', '.join(missing)} column; leave the option out for Python jobs"
        )
    for cells in rows:
        yield _status(dict(zip(names, cells, strict=True)))


def _status(row: Mapping[str, str]) -> StatusLine:
    code = 0 if row["status"] == "ok" else _number(row["exit_code"], UNKNOWN_EXIT)
    start, elapsed = float(row["start_time"]), float(row["duration"])
    out_bytes, err_bytes = (
        _number(row.get("out_bytes", ""), 0),
        _number(row.get("err_bytes", ""), 0),
    )
    flags = ("R" if code else " ") + ("O" if out_bytes else " ") + ("E" if err_bytes else " ")
    return StatusLine(
        flags + " ", int(row["task_id"]), int(row["line"]), int(row["repeat_index"]),
        row.get("host", ""), _number(row.get("pid", ""), UNKNOWN_PID), code, elapsed, start,
        start + elapsed, out_bytes, "", err_bytes, "", row["command"],
    )  # fmt: skip


def _number(text: str, missing: int) -> int:
    return int(text) if text else missing


def write_status_file(results: Path, path: Path, *, force: bool) -> int:
    """Write the status file of merged ``results`` at ``path``; return its line count.

    An existing ``path`` is replaced only with ``force``, and only if it is a
    status file itself: a user's other file is never overwritten.
    """
    if path.exists() and not (force and _is_status_file(path)):
        advice = "it is not a status file: choose another path" if force else "pass --force"
        raise UsageError(f"--status-file {path} exists; {advice} to replace it")
    rows = merged_rows(results)
    lines = [format_line(status) + "\n" for status in status_lines(next(rows, []), rows)]
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8", newline="") as out:
            out.writelines(lines)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise UsageError(
            f"--status-file {path} cannot be written ({exc.strerror}); choose a writable path"
        ) from None
    return len(lines)


def read_status_file(path: Path) -> list[StatusLine]:
    """The lines of a status file (disBatch's or ours); a UsageError naming a bad line."""
    found = []
    with open(path, encoding="utf-8", errors="surrogateescape", newline="\n") as file:
        for number, text in enumerate(file, 1):
            line = text.removesuffix("\n")
            if line == HEADER:
                continue
            try:
                found.append(parse_line(line))
            except (ValueError, SyntaxError) as exc:
                raise UsageError(
                    f"{path}: line {number} is not a disBatch status line ({exc}); pass a "
                    "status file"
                ) from None
    return found


def _is_status_file(path: Path) -> bool:
    try:
        read_status_file(path)
    except (UsageError, OSError, UnicodeError):
        return False
    return True
