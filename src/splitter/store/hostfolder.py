"""Read a host folder as merge and status see it: its checked manifest and its columns.

    manifest.json --read_host--> HostFolder (machine, digests, total, share, state)
    results.csv.zst header --job_columns--> the job's column names

The rows themselves are streamed by `splitter.merge.scan`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from splitter.errors import VerificationError
from splitter.store.frames import CorruptFileError
from splitter.store.manifest import MANIFEST_FORMAT, MANIFEST_NAME, read_manifest
from splitter.store.results import BASE_COLUMNS, RESULTS_NAME, ResultsReader
from splitter.store.runhistory import read_runs, run_totals

__all__ = ["MAX_JOBS", "HostFolder", "HostRun", "job_columns", "read_host"]

_BASE = len(BASE_COLUMNS)
# Merge and status keep 9 bytes per job of the plan: a larger total is a
# manifest edited by hand, not a campaign, and would only fail to allocate.
MAX_JOBS = 1 << 40
DIGEST_BYTES = 32  # every digest and the campaign seed: BLAKE2b-256


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
    campaign_seed: bytes
    config_digest: bytes
    pool_digest: bytes
    total: int
    share: int
    state: str
    started: object
    ended: object
    observed: HostRun | None = None
    """The declared and observed capacity of its runs (all that ran jobs); None in an older
    manifest."""
    plan_started: str = ""
    """When this folder first ran its plan (ISO 8601 UTC)."""
    pools_seen: tuple[str, ...] = ()
    """The pool digests of every plan whose rows its results file holds."""

    @property
    def one_pool(self) -> bool:
        """Whether every row of its results is of its own plan's pool (their job ids hold)."""
        return self.pools_seen == (self.pool_digest.hex(),)

    paused: tuple[float, str] | None = None
    """Since when (Unix seconds) and why its run is paused for the workstation's owner."""

    @property
    def results(self) -> Path:
        """The folder's results file (it may not exist)."""
        return self.path / RESULTS_NAME


def read_host(folder: Path) -> HostFolder:
    """Read and check a host folder's manifest.json."""
    data = read_manifest(folder)
    if data.get("format") != MANIFEST_FORMAT:
        raise VerificationError(
            f"{folder / MANIFEST_NAME} is of splitter 0.1 (manifest format"
            f" {data.get('format')}), whose job seeds and order differ from this version's;"
            " merge and read it with splitter 0.1"
        )
    try:
        return HostFolder(
            path=folder, machine=_text(data, "machine"), digest=_digest(data, "digest"),
            plan_digest=_digest(data, "plan_digest"),
            campaign_seed=_digest(data, "campaign_seed"),
            config_digest=_digest(data, "config_digest"),
            pool_digest=_digest(data, "pool_digest"), total=_count(data, "total"),
            share=_count(data, "share"), state=_text(data, "state"),
            started=data.get("started"), ended=data.get("ended"), observed=_observed(data),
            plan_started=_text(data, "plan_started"), pools_seen=_pools(data),
            paused=_paused(data),
        )  # fmt: skip
    except KeyError as exc:
        raise CorruptFileError(
            f"{folder / MANIFEST_NAME} has no valid {exc.args[0]!r}; restore the manifest.json"
            " that `run` wrote there, or rerun `run` on that machine to rewrite it"
        ) from None


def _pools(data: dict[str, object]) -> tuple[str, ...]:
    pools = data.get("pools_seen")
    if not isinstance(pools, list) or not all(isinstance(pool, str) for pool in pools):
        raise KeyError("pools_seen")
    return tuple(pools)


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
    runs = read_runs(data)
    if runs is not None:  # every run of the folder, not only the last (which may have done none)
        totals = run_totals(runs)
        busy, wall, jobs = totals.busy_seconds, totals.wall_seconds, totals.jobs_done
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
    try:
        number = float(value)
    except OverflowError:  # an int of hundreds of digits
        return None
    return number if math.isfinite(number) else None  # NaN must never reach report.json


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
