"""``splitter.run_jobs``: the engine behind ``run``, as a library call."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from splitter.campaign.load import load_campaign, locate_configs
from splitter.campaign.machines import check_machine_name, find_machine
from splitter.campaign.needs import NeedsSpec
from splitter.campaign.plan import all_jobs, share_jobs
from splitter.run.cpus import usable_cpus
from splitter.run.engine import JobPool
from splitter.run.local import LocalPool
from splitter.run.local.dispatch import local_slots
from splitter.run.mainguard import check_not_under_main_guard, leave_if_a_worker_imports_main
from splitter.run.runner import RunOptions, run_share
from splitter.run.sendable import check_sendable
from splitter.run.tally import RunSummary

__all__ = ["run_jobs"]


def run_jobs(
    job: Callable[..., Any],
    pool: Any,
    *,
    configs: str | Path | None = None,
    machine: str | None = None,
    out: str | Path = "results",
    workers: int | None = None,
    retry_failed: bool = False,
    fresh: bool = False,
    key: Callable[[Any], Any] | None = None,
    progress: bool = False,
    dask: str | None = None,
    dask_attempts: int = 3,
    reuse: tuple[str | Path, ...] = (),
    needs: NeedsSpec = None,
) -> RunSummary:
    """Run ``machine``'s share of ``pool`` (the whole pool when ``machine`` is None).

    The same engine, files and resume rules as the ``run`` command, without
    prompts: results go to ``out/<machine>/`` (``out/all/`` for the whole
    pool). Raises ``SplitterError`` subclasses for problems a user can fix;
    ``summary.exit_code`` is what the command would exit with. ``dask`` (a
    scheduler address or ``local[:N]``; else $SPLITTER_DASK) runs the jobs on a
    Dask cluster, as ``run --dask`` does. ``reuse`` names folders of the same
    splitter.ini whose ok rows are copied instead of run, as ``run --reuse``.
    ``needs`` is what each job holds while it runs, as for ``splitter.main``: one
    dict for every job or a function of the item returning one.
    """
    leave_if_a_worker_imports_main()
    engine = None
    if dask is not None or os.environ.get("SPLITTER_DASK"):
        from splitter.run.dask import dask_engine  # only then: a local run loads no Dask code

        engine = dask_engine(dask, dask_attempts)
    if engine is None:
        check_not_under_main_guard(job)
    where = locate_configs(Path(configs) if configs else None)
    campaign = load_campaign(where, pool, key, needs=needs)
    plan = campaign.plan
    extra: tuple[tuple[str, object], ...] = (("all", machine is None),)
    chosen = None
    if machine is None:
        name, share, cores = "all", all_jobs(plan), usable_cpus()
    else:
        name = check_machine_name(machine, "machine=")
        chosen = find_machine(campaign.machines, name, str(campaign.configs.path))
        name, share, cores = (
            chosen.name,
            share_jobs(plan, plan.share_for(chosen.name)),
            chosen.cores,
        )
        extra += (("perf", chosen.perf), ("cores", chosen.cores))
    options = RunOptions(
        out=Path(out), machine=name, workers=workers or cores,
        retry_failed=retry_failed, fresh=fresh, interactive=progress and sys.stderr.isatty(),
        manifest_extra=extra, reuse=tuple(Path(folder) for folder in reuse),
    )  # fmt: skip
    pool = JobPool(campaign.items, campaign.keys, campaign.key)
    check_sendable(job, pool, share, dask=engine is not None)
    if engine is None:
        settings = campaign.settings
        host = local_slots(
            chosen, options.workers, campaign.kinds, share,
            (settings.pin_cores, settings.enforce_mem),
        )  # fmt: skip
        return run_share(campaign, job, share, options, LocalPool(options.workers, host))
    return run_share(campaign, job, share, options, engine)
