"""The errors a user can cause, each carrying the exit code PRODUCT.md gives it.

Library code raises these; only the command line's edge catches them and turns
them into one sentence on stderr and an exit code. Anything else is our bug
and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "EXIT_FAILED_JOBS",
    "EXIT_INTERRUPTED",
    "EXIT_MISSING",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "ConfigError",
    "MissingJobsError",
    "ReduceError",
    "SplitterError",
    "UsageError",
    "VerificationError",
]

EXIT_OK = 0
EXIT_FAILED_JOBS = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_MISSING = 4
EXIT_INTERRUPTED = 130


class SplitterError(Exception):
    """A problem the user can fix; the message names the file and the fix."""

    exit_code = EXIT_USAGE


class UsageError(SplitterError):
    """Bad command-line usage, or a job pool the runner cannot take."""


class ConfigError(SplitterError):
    """A config file (machines.json, splitter.ini) that cannot be used as written."""


class VerificationError(SplitterError):
    """A check refused to go on: digest mismatch, answered no, mixed digests."""

    exit_code = EXIT_REFUSED


class MissingJobsError(SplitterError):
    """A merge found jobs no host has a result for."""

    exit_code = EXIT_MISSING


class ReduceError(SplitterError):
    """The user's reduce function raised on a merged row."""

    exit_code = EXIT_FAILED_JOBS
