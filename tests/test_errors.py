"""Tests for splitter.errors: exit codes and the one sentence for a file system error."""

from __future__ import annotations

import errno

import pytest

from splitter.errors import describe_os_error


@pytest.mark.parametrize(
    ("code", "fix"),
    [
        (errno.EROFS, "that file system is read-only; pass an --out on a writable one"),
        (errno.EACCES, "check its permissions, or pass another --out"),
        (errno.ENOSPC, "free some space, then run the same command again (a run resumes "
         "where it stopped)"),
        (errno.ENOTDIR, "a file stands where a folder is needed; pass another --out or move "
         "it aside"),
        (errno.ELOOP, "check the path and its permissions"),
    ],
)  # fmt: skip
def test_a_file_system_error_is_one_sentence_naming_the_path_cause_and_fix(
    code: int, fix: str
) -> None:
    exc = OSError(code, "the system's words", "results/alpha")
    assert describe_os_error(exc) == f"cannot use results/alpha (the system's words); {fix}"
