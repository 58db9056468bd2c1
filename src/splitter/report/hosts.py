"""An input folder's manifest.json as the report reads it: its runs, pauses, rescue, versions.

    manifest dict --host_record--> HostRecord (or FieldError naming the field)

Each field the report shows is type-checked: the runs (`runs`, or an older
manifest's top-level counts as one run), the `paused_intervals` a pause
wrote ([start, end or null, reason], Unix seconds), the `rescue` report a
rescue ran from, the declared perf and cores, and the versions. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from splitter.report.checks import FieldError, count, entries, items, number, optional, text
from splitter.store.runhistory import RunRecord, manifest_runs, read_runs

__all__ = ["HostRecord", "Pause", "host_record"]


@dataclass(frozen=True)
class Pause:
    """A time a host's jobs were stopped in place (end None: still paused when last written)."""

    start: float
    end: float | None
    reason: str


@dataclass(frozen=True)
class HostRecord:
    """What one input folder's manifest says of its runs."""

    folder: str
    machine: str
    state: str
    rescue: str | None
    """The report.json whose missing jobs this folder's run rescued; None for a share's run."""
    runs: tuple[RunRecord, ...]
    paused: tuple[Pause, ...]
    perf: float | None
    cores: int | None
    versions: dict[str, str]

    @property
    def kind(self) -> str:
        """ "rescue" for a rescue's folder, else "original"."""
        return "original" if self.rescue is None else "rescue"


def host_record(data: Mapping[str, Any], folder: str) -> HostRecord:
    """Check the manifest `data` of the input folder `folder`."""
    machine = text(data.get("machine"), "'machine'")
    if not machine:
        raise FieldError("'machine'", machine, "a machine's name")
    if "runs" in data and read_runs(data) is None:
        raise FieldError("'runs'", data["runs"], "a list of runs (started, ended, jobs_done, ...)")
    return HostRecord(
        folder=folder,
        machine=machine,
        state=text(data.get("state", ""), "'state'"),
        rescue=optional(text)(data.get("rescue"), "'rescue'"),
        runs=manifest_runs(data),
        paused=items(data.get("paused_intervals", []), "'paused_intervals'", _pause),
        perf=optional(number)(data.get("perf"), "'perf'"),
        cores=optional(count)(data.get("cores"), "'cores'"),
        versions=_versions(data.get("versions", {})),
    )


def _pause(value: object, where: str) -> Pause:
    if not isinstance(value, list) or len(value) != 3:
        raise FieldError(where, value, "a [start, end, reason] list")
    start = number(value[0], f"{where}[0]")
    end = optional(number)(value[1], f"{where}[1]")
    if end is not None and end < start:
        raise FieldError(f"{where}[1]", value[1], "an end at or after its start")
    return Pause(start, end, text(value[2], f"{where}[2]"))


def _versions(value: object) -> dict[str, str]:
    def version(item: object, where: str) -> str:
        if isinstance(item, bool):  # `frozen`: whether the run was the one-file binary
            return "yes" if item else "no"
        return text(item, where)

    return entries(value, "'versions'", version)
