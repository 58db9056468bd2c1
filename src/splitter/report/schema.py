"""report.json as the report reads it: every field it uses, type-checked into plain data.

    report.json's dict --parse_report--> MergeReport (or ConfigError naming the field)

A field that is absent takes its default (an older merge wrote fewer); a
field of the wrong type, a negative count, NaN, is one sentence naming the
file and the field. Fields the report does not use are not read. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splitter.errors import ConfigError
from splitter.report.checks import FieldError, count, entries, ids, items, number, optional, text

__all__ = ["CapacityEntry", "FolderEntry", "MergeReport", "parse_report"]


@dataclass(frozen=True)
class FolderEntry:
    """One input folder of the merge (report.json's `machines`)."""

    machine: str
    folder: str
    rows: int
    ok: int
    failed: dict[str, int]
    share: int
    state: str
    wall_seconds: float | None


@dataclass(frozen=True)
class CapacityEntry:
    """A machine's declared and observed capacity (report.json's `capacity`)."""

    declared: float | None
    observed: float | None
    wall_seconds: float | None


@dataclass(frozen=True)
class MergeReport:
    """The fields of report.json the report shows."""

    digest: str
    expected: int
    ok: int
    failed: dict[str, int]
    missing: tuple[int, ...]
    duplicates: int
    folders: tuple[FolderEntry, ...]
    inputs: tuple[str, ...]
    machines_seen: tuple[str, ...]
    damaged: tuple[tuple[str, str], ...]
    capacity: dict[str, CapacityEntry] | None
    missing_by_machine: dict[str, tuple[int, ...]] | None
    """{machine: the missing job ids it owned}, from a partial merge; None when not written."""


def parse_report(data: Mapping[str, Any], path: Path) -> MergeReport:
    """Check `data` (the JSON object of `path`) field by field."""
    try:
        return _parsed(data)
    except FieldError as exc:
        raise ConfigError(
            f"in {path}, {exc.sentence}; it was edited or damaged: merge again with --force"
            " to rewrite it"
        ) from None


def _parsed(data: Mapping[str, Any]) -> MergeReport:
    digest = data.get("digest_grouped", data.get("digest", ""))
    by_machine = data.get("missing_by_machine")
    capacity = data.get("capacity")
    return MergeReport(
        digest=text(digest, "'digest'"),
        expected=count(data.get("expected", 0), "'expected'"),
        ok=count(data.get("ok", 0), "'ok'"),
        failed=entries(data.get("failed", {}), "'failed'", count),
        missing=ids(data.get("missing", []), "'missing'"),
        duplicates=_duplicates(data.get("duplicates", 0)),
        folders=items(data.get("machines", []), "'machines'", _folder),
        inputs=items(data.get("inputs", []), "'inputs'", text),
        machines_seen=items(data.get("machines_seen", []), "'machines_seen'", text),
        damaged=items(data.get("damaged", []), "'damaged'", _damage),
        capacity=None if capacity is None else entries(capacity, "'capacity'", _capacity),
        missing_by_machine=None if by_machine is None else entries(
            by_machine, "'missing_by_machine'", ids
        ),
    )  # fmt: skip


def _duplicates(value: object) -> int:
    # A list of the conflicting rows' job ids, or (earlier merges) their count.
    return (
        len(ids(value, "'duplicates'"))
        if isinstance(value, list)
        else count(value, "'duplicates'")
    )


def _fields(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise FieldError(where, value, "an object")
    return value


def _folder(value: object, where: str) -> FolderEntry:
    entry = _fields(value, where)
    machine = text(entry.get("machine"), f"{where} 'machine'")
    if not machine:
        raise FieldError(f"{where} 'machine'", machine, "a machine's name")
    return FolderEntry(
        machine=machine,
        folder=text(entry.get("folder", ""), f"{where} 'folder'"),
        rows=count(entry.get("rows", 0), f"{where} 'rows'"),
        ok=count(entry.get("ok", 0), f"{where} 'ok'"),
        failed=entries(entry.get("failed", {}), f"{where} 'failed'", count),
        share=count(entry.get("share", 0), f"{where} 'share'"),
        state=text(entry.get("state", ""), f"{where} 'state'"),
        wall_seconds=optional(_seconds)(entry.get("wall_seconds"), f"{where} 'wall_seconds'"),
    )


def _capacity(value: object, where: str) -> CapacityEntry:
    entry = _fields(value, where)
    return CapacityEntry(
        optional(_positive)(entry.get("declared"), f"{where} 'declared'"),
        optional(_positive)(entry.get("observed_jobs_per_s"), f"{where} 'observed_jobs_per_s'"),
        optional(_seconds)(entry.get("wall_seconds"), f"{where} 'wall_seconds'"),
    )


def _damage(value: object, where: str) -> tuple[str, str]:
    entry = _fields(value, where)
    return text(entry.get("file"), f"{where} 'file'"), text(
        entry.get("problem"), f"{where} 'problem'"
    )


def _seconds(value: object, where: str) -> float:
    seconds = number(value, where)
    if seconds < 0:
        raise FieldError(where, value, "a number of seconds (0 or more)")
    return seconds


def _positive(value: object, where: str) -> float:
    found = number(value, where)
    if found < 0:
        raise FieldError(where, value, "a rate (0 or more)")
    return found
