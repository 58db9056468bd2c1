"""Load a campaign: configs + job pool -> validated machines, config, digests and plan.

The first steps of the data flow, shared by every command that has a job
pool (run, plan, digest). Pure apart from reading the two config files.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from configparser import ConfigParser
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splitter.campaign.canonical import materialize_pool
from splitter.campaign.config import (
    CONFIG_FILE,
    RunnerSettings,
    config_content,
    parse_config,
    read_config_text,
    runner_settings,
)
from splitter.campaign.digest import campaign_seed, config_digest
from splitter.campaign.identity import JobKeys, identify_pool
from splitter.campaign.kinds import JobKinds, job_kinds
from splitter.campaign.machines import MACHINES_FILE, Machine, load_machines
from splitter.campaign.needs import Needs, NeedsSpec
from splitter.campaign.phases import Phases, no_phases
from splitter.campaign.plan import Plan, make_plan
from splitter.errors import ConfigError

__all__ = ["EMBEDDED_ORIGIN", "Campaign", "ConfigsLocation", "load_campaign", "locate_configs"]

EMBEDDED_CONFIGS = "splitter_configs"
EMBEDDED_ORIGIN = "embedded in the binary"


@dataclass(frozen=True)
class ConfigsLocation:
    """Where the configs come from, and how they were chosen (shown by ``plan``)."""

    path: Path
    origin: str


@dataclass(frozen=True)
class Campaign:
    """Everything every host computes alike from the configs and the job pool."""

    configs: ConfigsLocation
    machines: tuple[Machine, ...]
    config: ConfigParser
    config_text: str
    config_source: str
    settings: RunnerSettings
    items: Sequence[Any]
    key: Callable[[Any], Any] | None
    """The ``key=`` hook that names each item for its job key (None: the item itself)."""
    keys: JobKeys
    """Every job's key, in pool order (job id i is items[i])."""
    pool_digest: bytes
    config_digest: bytes
    campaign_seed: bytes
    plan: Plan

    @property
    def kinds(self) -> JobKinds:
        """Every job's needs: the distinct kinds and each job's kind."""
        return self.plan.kinds

    @property
    def phases(self) -> Phases:
        """Every job's phase and the barriers between them (one phase without barriers)."""
        return self.plan.phases or no_phases(self.plan.total)


def locate_configs(explicit: Path | None) -> ConfigsLocation:
    """``--configs DIR``, else ``./configs``, else the configs embedded in a binary."""
    if explicit is not None:
        if not explicit.is_dir():
            raise ConfigError(
                f"--configs {explicit} is not a folder; pass the folder holding {MACHINES_FILE} "
                f"and {CONFIG_FILE}, or create one with `splitter init --configs {explicit}`"
            )
        return ConfigsLocation(explicit, "--configs")
    local = Path("configs")
    if local.is_dir():
        return ConfigsLocation(local, "./configs")
    embedded = _embedded_configs()
    if embedded is not None:
        return ConfigsLocation(embedded, EMBEDDED_ORIGIN)
    raise ConfigError(
        "no configs: ./configs does not exist here; pass --configs DIR, or write templates "
        "with `splitter init --configs configs`"
    )


def _embedded_configs() -> Path | None:
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is None:
        return None
    folder = Path(bundle) / EMBEDDED_CONFIGS
    return folder if folder.is_dir() else None


def load_campaign(
    configs: ConfigsLocation,
    pool: Any,
    key: Callable[[Any], Any] | None = None,
    *,
    machines: Sequence[Machine] | Callable[[Sequence[Needs]], Sequence[Machine]] | None = None,
    needs: NeedsSpec = None,
    phases: Phases | None = None,
) -> Campaign:
    """Validate the configs, digest the pool and the config, and plan the split.

    ``machines``, if given, replaces machines.json (which is then not read):
    a Slurm array plans over its tasks, given as a function of the campaign's
    kinds of job. ``needs`` is what each job holds while it runs (see
    `splitter.campaign.needs`): bad needs, and a job no machine can hold, are
    refused here, before anything runs. ``phases`` are a task file's barriers.
    """
    listed = load_machines(configs.path / MACHINES_FILE) if machines is None else None
    config_path = configs.path / CONFIG_FILE
    # A missing splitter.ini is fine: the runner's sections have built-in defaults.
    config_text = read_config_text(config_path) or ""
    config = parse_config(config_text, str(config_path))
    settings = runner_settings(config, str(config_path))
    items = materialize_pool(pool)
    identity = identify_pool(items, key)
    kinds = job_kinds(items, needs)
    if listed is not None:
        planned = listed
    else:
        assert machines is not None
        planned = tuple(machines(kinds.needs) if callable(machines) else machines)
    config_hash = config_digest(config_content(config))
    seed = campaign_seed(config_hash)
    return Campaign(
        configs=configs,
        machines=planned,
        config=config,
        config_text=config_text,
        config_source=str(config_path),
        settings=settings,
        items=items,
        key=key,
        keys=identity.keys,
        pool_digest=identity.digest,
        config_digest=config_hash,
        campaign_seed=seed,
        plan=make_plan(seed, identity.digest, planned, identity.keys.words, kinds, phases),
    )
