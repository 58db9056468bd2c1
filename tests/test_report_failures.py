"""Failed rows grouped as a person reads them: by exception type, by message, numbers masked."""

from __future__ import annotations

import pytest

from splitter.report.failures import (
    OTHER_MESSAGES,
    FailureKind,
    Failures,
    failure_kind,
    failure_kinds,
    failure_lines,
    failure_pattern,
)


def test_messages_that_differ_only_in_numbers_are_one_group() -> None:
    failures = Failures()
    for job, chunk in ((3, 17), (5, 18), (9, 2004)):
        failures.add(f"KeyError: 'chunk {chunk}'", "error", job)
    assert list(failures.groups) == ["KeyError: 'chunk N'"]
    group = failures.groups["KeyError: 'chunk N'"]
    assert (group.kind, group.example, group.count, group.first_ids) == (
        "KeyError", "KeyError: 'chunk 17'", 3, [3, 5, 9]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("message", "pattern"),
    [
        ("ValueError: x = 1.5e-3 at 0x7f3a9c", "ValueError: x = N at N"),
        ("job 12 failed after 3.25 s", "job N failed after N s"),
        ("no numbers here", "no numbers here"),
    ],
)
def test_failure_pattern_masks_decimal_float_and_hex_numbers(message: str, pattern: str) -> None:
    assert failure_pattern(message) == pattern


@pytest.mark.parametrize(
    ("message", "status", "kind"),
    [
        ("KeyError: 'a'", "error", "KeyError"),
        ("numpy.linalg.LinAlgError: Singular matrix", "error", "numpy.linalg.LinAlgError"),
        ("MemoryError", "error", "MemoryError"),
        ("worker died (exit code -9)", "crashed", "crashed"),
        ("", "timeout", "timeout"),
    ],
)
def test_the_kind_is_the_leading_exception_type_else_the_status(
    message: str, status: str, kind: str
) -> None:
    assert failure_kind(message, status) == kind


def test_failures_by_kind_add_up_their_patterns() -> None:
    failures = Failures()
    for job, message in enumerate(["KeyError: 'a'", "KeyError: 'b'", "KeyError: 'a'",
                                   "ValueError: 1", "worker died"]):  # fmt: skip
        failures.add(message, "crashed" if message == "worker died" else "error", job)
    assert failure_kinds(failures) == [
        FailureKind("KeyError", 3, 2), FailureKind("ValueError", 1, 1),
        FailureKind("crashed", 1, 1),
    ]  # fmt: skip


def test_failure_lines_rank_by_count_then_first_id() -> None:
    failures = Failures()
    for job, message in enumerate(["b", "a", "a", "c", "b", "b"]):
        failures.add(message, "error", job)
    assert [(line.pattern, line.count, line.first_ids) for line in failure_lines(failures)] == [
        ("b", 3, (0, 4, 5)), ("a", 2, (1, 2)), ("c", 1, (3,)),
    ]  # fmt: skip


def test_only_the_first_five_ids_of_a_group_are_kept() -> None:
    failures = Failures()
    kept = [failures.add("ValueError: no", "error", job) for job in range(7)]
    assert kept == [True] * 5 + [False] * 2
    assert failures.groups["ValueError: no"].first_ids == [0, 1, 2, 3, 4]


def test_patterns_beyond_the_cap_are_counted_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("splitter.report.failures._MAX_GROUPS", 2)
    failures = Failures()
    for job, message in enumerate(["a", "b", "c", "a", "d"]):
        failures.add(message, "error", job)
    assert {p: g.count for p, g in failures.groups.items()} == {"a": 2, "b": 1, OTHER_MESSAGES: 2}
    assert failures.groups[OTHER_MESSAGES].first_ids == [2, 4]
