"""Tests for splitter.run.local.jobenv: the variables that tell a job what it holds."""

from __future__ import annotations

from splitter.run.local.allocator import HostCapacity, Slots
from splitter.run.local.jobenv import THREAD_VARIABLES, job_environment

GPU_HOST = HostCapacity(cores=8, gpus=("2", "3", "5"))
THREADS_OF_TWO = dict.fromkeys(THREAD_VARIABLES, "2")


def test_a_gpu_job_sees_its_own_gpus_and_its_cores() -> None:
    slots = Slots((0, 1), ("3", "5"), 2**30, (("licences", 1),))
    assert job_environment(slots, GPU_HOST, {}) == {
        "SPLITTER_CORES": "2",
        "SPLITTER_GPUS": "3,5",
        "CUDA_VISIBLE_DEVICES": "3,5",
        "ROCR_VISIBLE_DEVICES": "3,5",
        "HIP_VISIBLE_DEVICES": "0,1",  # counted among those ROCR leaves visible
        "SPLITTER_MEM": "1073741824",
        "SPLITTER_RESOURCE_LICENCES": "1",
        **THREADS_OF_TWO,
    }


def test_a_job_without_gpus_on_a_gpu_host_sees_none() -> None:
    variables = job_environment(Slots((4,)), GPU_HOST, {"CUDA_VISIBLE_DEVICES": "2,3,5"})
    assert variables["CUDA_VISIBLE_DEVICES"] == ""
    assert variables["SPLITTER_GPUS"] == ""
    assert variables["HIP_VISIBLE_DEVICES"] == ""


def test_a_host_without_declared_gpus_leaves_the_gpu_lists_alone() -> None:
    variables = job_environment(Slots((0, 1)), HostCapacity(cores=2), {})
    assert variables == {"SPLITTER_CORES": "2", "SPLITTER_GPUS": "", **THREADS_OF_TWO}


def test_thread_variables_the_user_set_are_kept() -> None:
    variables = job_environment(Slots((0, 1, 2)), HostCapacity(cores=4), {"OMP_NUM_THREADS": "1"})
    assert "OMP_NUM_THREADS" not in variables
    assert variables["MKL_NUM_THREADS"] == "3"
    assert variables["OPENBLAS_NUM_THREADS"] == "3"
    assert variables["NUMEXPR_NUM_THREADS"] == "3"
    assert variables["VECLIB_MAXIMUM_THREADS"] == "3"
