"""A job's environment from the slots it holds: what it may use, and its libraries' threads.

    Slots + HostCapacity + the run's environment --job_environment--> variables to set

Pure. Every job learns how many cores it holds (``SPLITTER_CORES``), which
GPUs (``SPLITTER_GPUS``, "0,1"), its memory in bytes (``SPLITTER_MEM``, when
it declared some) and each named count (``SPLITTER_RESOURCE_<NAME>``).

On a host that declares GPUs, a job sees only its own: ``CUDA_VISIBLE_DEVICES``
and ``ROCR_VISIBLE_DEVICES`` list its GPU ids, and a job that holds none gets
an empty list, so it cannot take another job's GPU by accident. ROCm applies
``ROCR_VISIBLE_DEVICES`` first and counts ``HIP_VISIBLE_DEVICES`` among the
GPUs that leaves visible, so ``HIP_VISIBLE_DEVICES`` is ``0..n-1``. A host that
declares no GPUs leaves these variables as they are.

Numerical libraries start as many threads as the machine has CPUs unless
told otherwise, so a job's share of cores would be oversubscribed by each of
its libraries: every variable of THREAD_VARIABLES is set to the job's cores,
unless the run's own environment sets it (the user's choice wins).
"""

from __future__ import annotations

from collections.abc import Mapping

from splitter.run.local.allocator import HostCapacity, Slots

__all__ = ["THREAD_VARIABLES", "job_environment"]

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",  # OpenMP: GCC, LLVM and Intel runtimes, and what builds on them
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",  # Apple Accelerate
    "NUMEXPR_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "RAYON_NUM_THREADS",  # Rust's rayon (polars, tokenizers...)
    "POLARS_MAX_THREADS",
    "JULIA_NUM_THREADS",
)


def job_environment(
    slots: Slots, capacity: HostCapacity, environ: Mapping[str, str]
) -> dict[str, str]:
    """The variables to set for a job holding ``slots`` (``environ``: the run's own)."""
    cores = str(len(slots.cores))
    variables = {"SPLITTER_CORES": cores, "SPLITTER_GPUS": ",".join(slots.gpus)}
    if capacity.gpus:
        variables["CUDA_VISIBLE_DEVICES"] = variables["SPLITTER_GPUS"]
        variables["ROCR_VISIBLE_DEVICES"] = variables["SPLITTER_GPUS"]
        variables["HIP_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(len(slots.gpus)))
    if slots.mem:
        variables["SPLITTER_MEM"] = str(slots.mem)
    for name, count in slots.resources:
        variables[f"SPLITTER_RESOURCE_{name.upper()}"] = str(count)
    for variable in THREAD_VARIABLES:
        if variable not in environ:
            variables[variable] = cores
    return variables
