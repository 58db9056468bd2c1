"""The Dask engine under a workstation owner's pause: the client submits nothing more."""

from __future__ import annotations

import pytest

from test_dask_engine import _Cluster, _engine


def test_a_pause_takes_back_the_batches_no_worker_has_begun_and_submits_none() -> None:
    cluster = _Cluster()
    engine = _engine(cluster, 4)
    engine._submit()
    first, _ = engine._batches.values()
    first.worker = "tcp://w1"  # running: it finishes
    engine.pause(in_place=False)
    assert list(engine._batches.values()) == [first]
    engine._submit()
    assert len(cluster.connection.submitted) == 2
    assert not engine.finished
    engine.resume()
    engine._submit()
    assert len(cluster.connection.submitted) == 3
    assert sorted(job for batch in engine._batches.values() for job in batch.jobs) == [0, 1]


def test_the_dask_engine_can_neither_stop_jobs_in_place_nor_change_its_workers() -> None:
    engine = _engine(_Cluster(), 2)
    assert (engine.stops_in_place, engine.most_workers, engine.paused_in_place) == (
        False, None, False,
    )  # fmt: skip
    with pytest.raises(ValueError, match="concurrency is its cluster's workers"):
        engine.set_workers(1)
