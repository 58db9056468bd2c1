"""Read a host folder as merge and status see it: its checked manifest and its columns.

    manifest.json --read_host--> HostFolder (machine, digests, total, share, state)
    results.csv.zst header --job_columns--> the job's column names

The rows themselves are streamed by `splitter.merge.scan`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from splitter.store.frames import CorruptFileError
from splitter.store.manifest import MANIFEST_NAME, read_manifest
from splitter.store.results import BASE_COLUMNS, RESULTS_NAME, ResultsReader

__all__ = ["MAX_JOBS", "HostFolder", "HostRun", "job_columns", "read_host"]

_BASE = len(BASE_COLUMNS)
# Merge and status keep 9 bytes per job of the plan: a larger total is a
# manifest edited by hand, not a campaign, and would only fail to allocate.
MAX_JOBS = 1 << 40
DIGEST_BYTES = 32  # every digest and the run seed: BLAKE2b-256


@dataclass(frozen=True)
class HostRun:
    """What a run's manifest says of its capacity: declared perf x cores, and what it did."""

    perf: float | None
    cores: int | None
    busy_seconds: float
    jobs_done: int
    wall_seconds: float
    rate: float | None
    """Jobs per second after the first seconds, as the runner last measured it."""
    updated: float | None
    """Unix time of the manifest's last rewrite."""


@dataclass(frozen=True)
class HostFolder:
    """A host's output folder and what its manifest.json says about it."""

    path: Path
    machine: str
    digest: bytes
    plan_digest: bytes
    run_seed: bytes
    total: int
    share: int
    state: str
    started: object
    ended: object
    observed: HostRun | None = None
    """The declared and observed capacity of its last run; None in an older manifest."""
    paused: tuple[float, str] | None = None
    """Since when (Unix seconds) and why its run is paused for the workstation's owner."""

    @property
    def results(self) -> Path:
        """The folder's results file (it may not exist)."""
        return self.path / RESULTS_NAME


def read_host(folder: Path) -> HostFolder:
    """Read and check a host folder's manifest.json."""
    data = read_manifest(folder)
    try:
        return HostFolder(
            path=folder, machine=_text(data, "machine"), digest=_digest(data, "digest"),
            plan_digest=_digest(data, "plan_digest"), run_seed=_digest(data, "run_seed"),
            total=_count(data, "total"),
            share=_count(data, "share"), state=_text(data, "state"),
            started=data.get("started"), ended=data.get("ended"), observed=_observed(data),
            paused=_paused(data),
        )  # fmt: skip
    except KeyError as exc:
        raise CorruptFileError(
            f"{folder / MANIFEST_NAME} has no valid {exc.args[0]!r}; restore the manifest.json"
            " that `run` wrote there, or rerun `run` on that machine to rewrite it"
        ) from None


def _text(data: dict[str, object], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise KeyError(key)
    return value


def _hex(data: dict[str, object], key: str) -> bytes:
    try:
        return bytes.fromhex(_text(data, key))
    except ValueError:
        raise KeyError(key) from None


def _count(data: dict[str, object], key: str) -> int:
    value = data.get(key)
    if type(value) is not int or not 0 <= value <= MAX_JOBS:
        raise KeyError(key)
    return value


def _observed(data: dict[str, object]) -> HostRun | None:
    """The capacity fields, read leniently: a manifest without them is an older run's."""
    busy, wall, jobs = (
        _number(data, "busy_seconds"),
        _number(data, "wall_seconds"),
        data.get("jobs_done"),
    )
    if busy is None or wall is None or type(jobs) is not int:
        return None
    cores = data.get("cores")
    return HostRun(
        perf=_number(data, "perf"), cores=cores if type(cores) is int else None,
        busy_seconds=busy, wall_seconds=wall, jobs_done=jobs,
        rate=_number(data, "rate_jobs_per_s"), updated=_number(data, "updated"),
    )  # fmt: skip


def _paused(data: dict[str, object]) -> tuple[float, str] | None:
    """The owner's pause of a running host, read leniently (absent in older manifests)."""
    owner = data.get("owner")
    paused = owner.get("paused") if isinstance(owner, dict) else None
    if not isinstance(paused, dict):
        return None
    since, reason = _number(paused, "since"), paused.get("reason")
    if since is None or not isinstance(reason, str):
        return None
    return since, reason


def _number(data: dict[str, object], key: str) -> float | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def job_columns(host: HostFolder) -> tuple[str, ...]:
    """The job columns of a host's results header; () when it has no results yet."""
    if not host.results.exists():
        return ()
    return ResultsReader(host.results).header[_BASE:-1]


def _digest(data: dict[str, object], key: str) -> bytes:
    """A digest as `run` writes it: 64 lowercase hex digits (32 bytes), nothing else."""
    text = _text(data, key)
    if len(text) != 2 * DIGEST_BYTES or text != text.lower():
        raise KeyError(key)
    return _hex(data, key)
