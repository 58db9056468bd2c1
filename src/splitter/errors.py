"""The errors a user can cause, each carrying the exit code PRODUCT.md gives it.

Library code raises these; only the command line's edge catches them and turns
them into one sentence on stderr and an exit code. Anything else is our bug
and keeps its traceback.
"""

from __future__ import annotations

import errno

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
    "describe_os_error",
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


_OS_ERROR_FIXES = {
    errno.ENOSPC: "free some space, then run the same command again (a run resumes where it "
    "stopped)",
    errno.EDQUOT: "free some of your quota, then run the same command again",
    errno.EFBIG: "the file is over this system's file size limit; raise it (ulimit -f) or "
    "pass another --out",
    errno.EROFS: "that file system is read-only; pass an --out on a writable one",
    errno.EACCES: "check its permissions, or pass another --out",
    errno.EPERM: "check its permissions, or pass another --out",
    errno.ENOTDIR: "a file stands where a folder is needed; pass another --out or move it aside",
    errno.EEXIST: "a file stands where a folder is needed; pass another --out or move it aside",
    errno.EISDIR: "a folder stands where a file is needed; move it aside",
}


def describe_os_error(exc: OSError) -> str:
    """One sentence for a file system error on a named path: the path, the cause, the fix."""
    fix = _OS_ERROR_FIXES.get(exc.errno or 0, "check the path and its permissions")
    return f"cannot use {exc.filename} ({exc.strerror or exc}); {fix}"
