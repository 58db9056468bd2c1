"""The Dask engine as the runner takes it: ``--dask ADDRESS`` to an engine factory.

    dask_engine(address) --checks the address--> DaskEngineFactory(DaskCluster)
        --called by the runner--> DaskEngine (`engine`) --connects--> `cluster`

The modules import one way, factory -> engine -> cluster, and the engine
loads only when a run on Dask starts, so a plain ``run`` never imports it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from splitter.run.dask.cluster import DaskCluster, parse_address, require_dask
from splitter.run.engine import JobPool, JobSetup, LogSink

if TYPE_CHECKING:
    from splitter.run.dask.engine import DaskEngine

__all__ = ["DaskEngineFactory", "dask_engine"]


@dataclass(frozen=True)
class DaskEngineFactory:
    """The runner's engine factory for one Dask cluster."""

    cluster: DaskCluster

    def __call__(
        self,
        setup: JobSetup,
        pool: JobPool,
        job_ids: Sequence[int],
        on_log: LogSink,
        job_timeout: float | None,
    ) -> DaskEngine:
        from splitter.run.dask.engine import DaskEngine

        return DaskEngine(self.cluster, setup, pool, job_ids, on_log, job_timeout)


def dask_engine(address: str | None, attempts: int = 3) -> DaskEngineFactory | None:
    """The Dask engine for ``address`` (else $SPLITTER_DASK); None: use the local pool."""
    given_by = "--dask" if address is not None else "SPLITTER_DASK"
    chosen = address if address is not None else os.environ.get("SPLITTER_DASK") or None
    if chosen is None:
        return None
    parse_address(chosen, given_by)  # A bad value fails before anything is made.
    require_dask()
    return DaskEngineFactory(DaskCluster(chosen.strip(), attempts))
