"""The parent's logging during a run: every process's records into log.zst.

Workers send their records over their pipes (see `splitter.run.local.worker`); the parent
hands them, and its own, to one file handler, so log.zst holds every
process's lines in arrival order. The console gets splitter's own INFO lines
and everyone's warnings, without tracebacks (those are in the file); with
progress bars on a terminal, through ``logging_redirect_tqdm`` so they never
tear a bar.
"""

from __future__ import annotations

import contextlib
import logging
import re
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from splitter.campaign.config import RunnerSettings
from splitter.store.logfile import LogFileWriter, UtcFormatter, ZstdLogHandler
from splitter.store.rowformat import failure_pattern

__all__ = ["FILE_ONLY", "FILE_ONLY_LOGGERS", "RunLogging"]

FILE_ONLY = {"file_only": True}
"""``extra=`` of a record meant for log.zst alone: the console says it another way."""
FILE_ONLY_LOGGERS = ("distributed", "tornado", "bokeh")
"""Libraries whose records (tracebacks and all) go to log.zst but never to the console:
Dask's client logs a lost scheduler in dozens of lines before the run's own sentence."""

_JOB_FAILED = re.compile(r"job (\d+) failed: (.*)", re.S)


class _MachineFilter(logging.Filter):
    """Names the machine on every record (the file's format shows it)."""

    def __init__(self, machine: str) -> None:
        super().__init__()
        self.machine = machine

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "machine"):
            record.machine = self.machine
        return True


class _ConsoleFilter(logging.Filter):
    """splitter's own progress and summary lines, and everybody's warnings (but Dask's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "file_only", False) or record.name.split(".")[0] in FILE_ONLY_LOGGERS:
            return False
        return record.levelno >= logging.WARNING or record.name.startswith("splitter")


class _RepeatFilter(logging.Filter):
    """Lets through the first of the job failures that differ only in their numbers.

    ``job 17 failed: KeyError: 'chunk 3'`` and ``job 18 failed: KeyError:
    'chunk 4'`` are one failure repeated: the console shows the first, and
    at the end how many more came like it. The log file keeps every one.
    """

    def __init__(self) -> None:
        super().__init__()
        self.first: dict[str, str] = {}
        self.more: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        found = _JOB_FAILED.match(message)
        if found is None or record.levelno < logging.ERROR:
            return True
        pattern = failure_pattern(found.group(2))
        if pattern not in self.first:
            self.first[pattern] = message.splitlines()[0]
            return True
        self.more[pattern] = self.more.get(pattern, 0) + 1
        return False

    def lines(self) -> list[str]:
        """For each repeated failure: its first line and how many more came like it."""
        return [
            f"{self.first[pattern]} (and {count:,} more like it)"
            for pattern, count in self.more.items()
        ]


class _ConsoleFormatter(logging.Formatter):
    """One line per record; tracebacks stay in the log file."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage().splitlines()[0] if record.getMessage() else ""
        if record.levelno >= logging.WARNING:
            return f"{record.levelname.lower()}: {message}"
        return message


class RunLogging:
    """Installs the run's handlers on entry and removes them on exit."""

    def __init__(
        self,
        folder: Path,
        machine: str,
        settings: RunnerSettings,
        stream: IO[str],
        *,
        bars: bool,
    ) -> None:
        self._writer = LogFileWriter(folder, settings.max_log_size, settings.compression_level)
        self._file = ZstdLogHandler(self._writer)
        self._file.setFormatter(UtcFormatter(settings.log_format))
        self._file.setLevel(settings.log_level)
        self._file.addFilter(_MachineFilter(machine))
        self._console = logging.StreamHandler(stream)
        self._console.setFormatter(_ConsoleFormatter())
        self._console.setLevel(logging.INFO)
        self._console.addFilter(_ConsoleFilter())
        self._repeats = _RepeatFilter()
        self._console.addFilter(self._repeats)
        self._root = logging.getLogger()
        self._level = min(settings.log_level, logging.INFO)
        self._stack = contextlib.ExitStack()
        self._bars = bars

    def __enter__(self) -> RunLogging:
        previous_level = self._root.level
        self._root.setLevel(self._level)
        self._stack.callback(self._root.setLevel, previous_level)
        for handler in (self._file, self._console):
            self._root.addHandler(handler)
            self._stack.callback(self._root.removeHandler, handler)
        self._stack.callback(self._file.close)
        if not self._bars:
            return self
        from tqdm.contrib.logging import logging_redirect_tqdm

        # Swaps the console handlers for tqdm's (appended last), which keeps
        # the formatter but not the level and filter: set those again.
        self._stack.enter_context(logging_redirect_tqdm([self._root]))
        console = self._root.handlers[-1]
        console.setLevel(logging.INFO)
        console.addFilter(_ConsoleFilter())
        console.addFilter(self._repeats)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.close()

    def handle_worker_record(self, data: dict[str, Any]) -> None:
        """Log a record a worker sent, as if it had been logged here."""
        record = logging.makeLogRecord(data)
        for handler in self._root.handlers:
            if record.levelno >= handler.level:
                handler.handle(record)

    def report_repeats(self) -> None:
        """Say on the console how many more failures came like each one shown (not in the file)."""
        for line in self._repeats.lines():
            record = logging.makeLogRecord(
                {
                    "name": "splitter.run",
                    "levelno": logging.ERROR,
                    "levelname": "ERROR",
                    "msg": line,
                }
            )
            for handler in self._root.handlers:
                if handler is not self._file:
                    handler.handle(record)

    def flush(self) -> None:
        """Close the log's current frame, so a crash loses at most the last second."""
        self._file.flush()
