"""Tests for splitter.run.dask.needs: jobs' needs as Dask task resources."""

from __future__ import annotations

from splitter.campaign.needs import Needs
from splitter.run.dask.needs import TAG_SHARE, counts_cores, dask_resources, unheld_kind

GIB = 2**30
BIG = Needs(cores=4, gpus=1, mem=8 * GIB, tags=("openfoam",), resources=(("licences", 2),))


def test_needs_become_gpu_mem_named_and_tag_resources() -> None:
    assert dask_resources(BIG, cores=False) == {
        "GPU": 1.0, "MEM": 8.0 * GIB, "licences": 2.0, "tag-openfoam": TAG_SHARE
    }  # fmt: skip


def test_a_plain_job_asks_for_nothing_unless_cores_are_counted() -> None:
    assert dask_resources(Needs(), cores=False) == {}
    assert dask_resources(Needs(), cores=True) == {"CORES": 1.0}
    assert dask_resources(BIG, cores=True)["CORES"] == 4.0


def test_cores_are_counted_when_some_kind_needs_more_than_one() -> None:
    assert not counts_cores([Needs(), Needs(gpus=1)])
    assert counts_cores([Needs(), Needs(cores=2)])


def test_a_kind_some_worker_holds_passes() -> None:
    workers = {"tcp://a": {"GPU": 2.0, "MEM": 64e9, "licences": 4.0, "tag-openfoam": 1.0}}
    assert unheld_kind([(BIG, 3), (Needs(), 0)], workers, cores=False) is None


def test_a_kind_no_worker_holds_is_one_sentence_with_the_resources_to_declare() -> None:
    workers = {"tcp://a": {"GPU": 2.0, "CORES": 8.0}, "tcp://b": {"MEM": 64e9}}
    assert unheld_kind([(Needs(), 0), (BIG, 3)], workers, cores=True) == (
        "job 3 needs cores=4 gpus=1 mem=8G licences=2 tags=openfoam, but no worker of the "
        "Dask cluster declares the resources it asks for (CORES=4,GPU=1,MEM=8589934592,"
        "licences=2,tag-openfoam=1); start workers that have them, like `dask worker ADDRESS "
        '--resources "CORES=4,GPU=1,MEM=8589934592,licences=2,tag-openfoam=1"`'
    )
