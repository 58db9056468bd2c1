"""Which GPUs a batch holds in a Dask worker, and what its jobs are told they hold.

Runs in a Dask worker process. Dask counts GPUs as a resource (``dask worker
--resources "GPU=2"``) and never runs more batches at once than it allows,
but does not say which GPU a batch has: this process hands out the lowest
ids no running batch holds. The ids are the worker's CUDA_VISIBLE_DEVICES
(or ROCm's list) if set, else 0, 1, ... for the GPUs it declares. The jobs
of a Dask worker share one process, so a Python job learns its GPUs from
``resources.gpus`` (the process's CUDA_VISIBLE_DEVICES cannot differ per
job); a shell task also gets them in its variables.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from splitter.campaign.needs import Needs
from splitter.run.injection import JobResources
from splitter.run.local.allocator import GPU_LIST_VARIABLES, HostCapacity, Slots
from splitter.run.local.jobenv import job_environment

__all__ = ["GpuIds", "resources_of"]


class GpuIds:
    """This worker process's GPU ids, and those no running batch holds."""

    def __init__(self) -> None:
        self.all: tuple[str, ...] | None = None
        self._free: list[str] = []
        self._lock = threading.Lock()

    def take(self, worker: Any, count: int) -> list[str]:
        """The lowest ``count`` free ids (``worker``: the Dask worker, for what it declares)."""
        with self._lock:
            if self.all is None:
                declared = int(worker.state.total_resources.get("GPU", 0))
                listed = next((os.environ[n] for n in GPU_LIST_VARIABLES if n in os.environ), "")
                ids = [part.strip() for part in listed.split(",") if part.strip()]
                self.all = tuple((ids or [str(i) for i in range(declared)])[:declared])
                self._free = list(self.all)
            held, self._free = self._free[:count], self._free[count:]
            return held

    def give_back(self, held: list[str]) -> None:
        """The batch that held ``held`` has ended."""
        if held:
            with self._lock:
                order = self.all or ()
                self._free = sorted(self._free + held, key=order.index)


def resources_of(needs: Needs, gpus: list[str], every: tuple[str, ...] | None) -> JobResources:
    """What a job of ``needs`` holding ``gpus`` (of the worker's ``every``) is told it holds."""
    slots = Slots(tuple(range(needs.cores)), tuple(gpus), needs.mem, needs.resources)
    capacity = HostCapacity(needs.cores, every or ())
    return JobResources(
        cores=needs.cores, gpus=tuple(gpus), mem=needs.mem, named=dict(needs.resources),
        environment=job_environment(slots, capacity, os.environ),
    )  # fmt: skip
