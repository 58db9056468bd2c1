"""The runner drives any engine through the protocol of splitter.run.engine."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from conftest import write_configs
from labels import key_of
from splitter.campaign.load import load_campaign, locate_configs
from splitter.campaign.plan import all_jobs
from splitter.run.engine import JobPool, JobSetup, LogSink, Received, RunningJob
from splitter.run.local.supervisor import WorkersFailedError
from splitter.run.runner import RunOptions, run_share
from splitter.store.results import ResultsReader


class InlineEngine:
    """Runs each job in this process, one per step; loses the worker on job ``lost``."""

    def __init__(self, setup: JobSetup, pool: JobPool, job_ids: Sequence[int], lost: int):
        self.setup, self.pool, self.pending, self.lost = setup, pool, list(job_ids), lost
        self.columns: tuple[str, ...] | None = None
        self.stopping = False
        self.started = self.closed = False

    @property
    def finished(self) -> bool:
        return not self.pending

    def start(self) -> None:
        self.started = True

    def step(self, timeout: float) -> Received:
        job_id = self.pending.pop(0)
        if job_id == self.lost:
            return [(job_id, "crashed", 0.0, 0.0, "worker lost", None)]
        return [(job_id, "ok", 1.0, 0.5, "", self.setup.job(self.pool.items[job_id]))]

    def running(self) -> list[RunningJob]:
        return [RunningJob(self.pending[0], 0.1, 0.0, 0.0)] if self.pending else []

    def request_stop(self) -> None:
        self.stopping = True

    def close(self) -> None:
        self.closed = True

    def kill(self) -> None:
        self.closed = True

    # The owner's controls: this engine cannot pause and has no workers to change.
    stops_in_place = False
    most_workers = None
    paused_in_place = False

    def pause(self, in_place: bool) -> None:
        raise AssertionError("nothing asked for a pause")

    def resume(self) -> None:
        raise AssertionError("nothing asked to continue")

    def set_workers(self, count: int) -> None:
        raise AssertionError("nothing asked for other workers")


class InlineFactory:
    def __init__(self, lost: int) -> None:
        self.lost = lost
        self.made: list[InlineEngine] = []

    def __call__(
        self,
        setup: JobSetup,
        pool: JobPool,
        job_ids: Sequence[int],
        on_log: LogSink,
        job_timeout: float | None,
    ) -> InlineEngine:
        self.made.append(InlineEngine(setup, pool, job_ids, self.lost))
        return self.made[-1]


def double(x: int) -> dict[str, int]:
    return {"twice": 2 * x}


def test_the_runner_writes_the_rows_an_engine_hands_back(tmp_path: Path) -> None:
    configs = write_configs(tmp_path / "configs")
    campaign = load_campaign(locate_configs(configs), list(range(6)))
    options = RunOptions(out=tmp_path / "out", machine="all", workers=1, stream=io.StringIO())
    factory = InlineFactory(lost=4)

    summary = run_share(campaign, double, all_jobs(campaign.plan), options, factory)

    reader = ResultsReader(tmp_path / "out" / "all" / "results.csv.zst")
    found = {int(row[0]): (row[2], row[-2]) for row in reader}
    assert found == {
        0: ("ok", "0"), 1: ("ok", "2"), 2: ("ok", "4"),
        3: ("ok", "6"), 4: ("crashed", ""), 5: ("ok", "10"),
    }  # fmt: skip
    labels = {int(row[0]): (row[6], row[7], row[8]) for row in reader}
    assert labels == {job_id: (key_of(job_id), "4" if job_id == 4 else "", "") for job_id in found}
    assert (summary.ok, summary.failed["crashed"], summary.exit_code) == (5, 1, 1)
    engine = factory.made[0]
    assert engine.started and engine.closed
    assert engine.setup.campaign_seed == campaign.campaign_seed
    assert engine.pool.keys.hex_of(range(6)) == [key_of(job_id) for job_id in range(6)]


class BrokenEngine(InlineEngine):
    """An engine that gives up on its third step, as a pool whose workers cannot start."""

    def step(self, timeout: float) -> Received:
        if len(self.pending) == 3:
            raise WorkersFailedError("worker processes exit right after starting")
        return super().step(timeout)


def test_an_engine_that_fails_leaves_the_manifest_interrupted_and_is_killed(
    tmp_path: Path,
) -> None:
    configs = write_configs(tmp_path / "configs")
    campaign = load_campaign(locate_configs(configs), list(range(6)))
    options = RunOptions(out=tmp_path / "out", machine="all", workers=1, stream=io.StringIO())
    made: list[BrokenEngine] = []

    def factory(setup: JobSetup, pool: JobPool, ids: Any, on_log: Any, timeout: Any) -> Any:
        made.append(BrokenEngine(setup, pool, ids, lost=-1))
        return made[-1]

    with pytest.raises(WorkersFailedError):
        run_share(campaign, double, all_jobs(campaign.plan), options, factory)
    manifest = json.loads((tmp_path / "out" / "all" / "manifest.json").read_text())
    assert (manifest["state"], manifest["counts"]["ok"]) == ("interrupted", 3)
    assert made[0].closed
    assert len(list(ResultsReader(tmp_path / "out" / "all" / "results.csv.zst"))) == 3
