"""Jobs' needs as Dask task resources, and whether a cluster's workers can hold them.

    Needs --dask_resources--> {"GPU": 1, "MEM": 8e9, "licences": 2, "tag-openfoam": ...}
    kinds + each worker's declared resources --unheld_kind--> a sentence, or None

Pure. Dask runs a task only on a worker that declares every resource it
asks for (``dask worker --resources "GPU=2,MEM=64e9"``) and never runs more
at once on a worker than its resources allow, so a batch of jobs of one kind
asks for what one job of that kind needs (its jobs run one after another).

- ``gpus`` is GPU, ``mem`` is MEM (bytes), a named count is its own name.
- A tag is a resource ``tag-<name>`` a worker declares as 1; a job asks for
  TAG_SHARE of it, so it marks where the job may run without limiting how
  many run there at once.
- Cores beyond one reserve worker threads through a CORES resource: when
  some kind needs more than one core, every batch asks for CORES equal to
  its jobs' cores, and workers declare ``CORES=<threads>``; so a worker of 8
  threads runs one 4-core job beside four one-core ones, never eight jobs
  on 8 + 3 cores. (Refusing them would leave multi-core jobs no way onto
  Dask; letting them take one thread each would oversubscribe the workers.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from splitter.campaign.needs import Needs

__all__ = ["CORES", "TAG_SHARE", "counts_cores", "dask_resources", "unheld_kind"]

CORES = "CORES"
TAG_SHARE = 2.0**-20
"""What a job asks of a tag resource: an exact binary fraction, so a worker's 1 holds 2**20."""


def counts_cores(kinds: Sequence[Needs]) -> bool:
    """Whether batches ask for CORES: some kind needs more than one core."""
    return any(needs.cores > 1 for needs in kinds)


def dask_resources(needs: Needs, cores: bool) -> dict[str, float]:
    """The Dask resources a batch of jobs of ``needs`` asks for (``cores``: ask CORES too)."""
    asked: dict[str, float] = {}
    if cores:
        asked[CORES] = float(needs.cores)
    if needs.gpus:
        asked["GPU"] = float(needs.gpus)
    if needs.mem:
        asked["MEM"] = float(needs.mem)
    for name, count in needs.resources:
        asked[name] = float(count)
    for tag in needs.tags:
        asked[f"tag-{tag}"] = TAG_SHARE
    return asked


def unheld_kind(
    kinds: Sequence[tuple[Needs, int]], workers: Mapping[str, Mapping[str, float]], cores: bool
) -> str | None:
    """A sentence for the first kind (with one of its jobs) that no worker can hold; else None.

    ``workers`` maps each worker's address to the resources it declares.
    """
    for needs, job in kinds:
        asked = dask_resources(needs, cores)
        if not asked or any(_holds(declared, asked) for declared in workers.values()):
            continue
        shown = ",".join(f"{name}={_number(value)}" for name, value in asked.items())
        return (
            f"job {job} needs {needs.describe()}, but no worker of the Dask cluster declares "
            f"the resources it asks for ({shown}); start workers that have them, like "
            f'`dask worker ADDRESS --resources "{shown}"`'
        )
    return None


def _holds(declared: Mapping[str, float], asked: Mapping[str, float]) -> bool:
    return all(declared.get(name, 0.0) >= value for name, value in asked.items())


def _number(value: float) -> str:
    """A resource as a worker declares it: a tag's share as 1, whole numbers without ".0"."""
    if value == TAG_SHARE:
        return "1"
    return str(int(value)) if value.is_integer() else f"{value:g}"
