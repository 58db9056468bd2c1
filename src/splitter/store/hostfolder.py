"""Read a host folder as merge and status see it: its checked manifest and its columns.

    manifest.json --read_host--> HostFolder (machine, digests, total, share, state)
    results.csv.zst header --job_columns--> the job's column names

The rows themselves are streamed by `splitter.merge.scan`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from splitter.errors import ConfigError, VerificationError
from splitter.store.frames import CorruptFileError
from splitter.store.manifest import MANIFEST_FORMAT, MANIFEST_NAME, read_manifest
from splitter.store.planfile import PLAN_FILE, PlanRecord
from splitter.store.results import BASE_COLUMNS, RESULTS_NAME, ResultsReader
from splitter.store.runhistory import finite_number, read_runs, run_totals

__all__ = [
    "MAX_JOBS",
    "HostFolder",
    "HostRun",
    "check_plan_total",
    "job_columns",
    "read_host",
]

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
    """The capacity fields: a manifest without them is an older run's; wrong ones are refused."""
    busy, wall = _number(data, "busy_seconds"), _number(data, "wall_seconds")
    jobs = _optional_count(data, "jobs_done")
    if busy is None or wall is None or jobs is None:
        return None
    runs = read_runs(data)
    if runs is not None:  # every run of the folder, not only the last (which may have done none)
        totals = run_totals(runs)
        busy, wall, jobs = totals.busy_seconds, totals.wall_seconds, totals.jobs_done
    return HostRun(
        perf=_number(data, "perf"), cores=_optional_count(data, "cores"),
        busy_seconds=busy, wall_seconds=wall, jobs_done=jobs,
        rate=_number(data, "rate_jobs_per_s"), updated=_number(data, "updated"),
    )  # fmt: skip


def _paused(data: dict[str, object]) -> tuple[float, str] | None:
    """The owner's pause of a running host, read leniently (absent in older manifests)."""
    owner = data.get("owner")
    paused = owner.get("paused") if isinstance(owner, dict) else None
    if not isinstance(paused, dict):
        return None
    since, reason = finite_number(paused, "since"), paused.get("reason")
    if since is None or not isinstance(reason, str):
        return None
    return since, reason


def _number(data: dict[str, object], key: str) -> float | None:
    """A finite number of at least 0; None when absent (KeyError when anything else)."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise KeyError(key)
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range
        raise KeyError(key) from None
    if not (math.isfinite(number) and number >= 0):
        raise KeyError(key)
    return number


def _optional_count(data: dict[str, object], key: str) -> int | None:
    return _count(data, key) if data.get(key) is not None else None


def check_plan_total(host: HostFolder, record: PlanRecord | None) -> PlanRecord:
    """The folder's plan.zst, whose job count its manifest's ``total`` must be.

    The plan file holds a record per job, so its count is the truth: a total
    edited into the manifest (10^9 would make status allocate gigabytes) is refused.
    """
    if record is None or record.plan_digest != host.plan_digest.hex():
        raise ConfigError(
            f"{host.path} has no {PLAN_FILE} of its plan, which is needed to tell which jobs"
            " the campaign holds; run that folder's plan again (nothing reruns) to rewrite it"
        )
    if host.total != record.total:
        raise CorruptFileError(
            f"{host.path / MANIFEST_NAME} has total {host.total:,}, but its {PLAN_FILE} holds"
            f" {record.total:,} jobs: a manifest was edited; restore the manifest.json that"
            " `run` wrote there, or rerun `run` on that machine to rewrite it"
        )
    return record


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
