"""A disk that fills mid-run: the summary and manifest.json count only rows on disk."""

from __future__ import annotations

import errno
import io
import json
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from conftest import write_configs
from splitter.campaign.load import load_campaign, locate_configs
from splitter.campaign.plan import all_jobs
from splitter.run.engine import JobPool, JobSetup, LogSink, Received, RunningJob
from splitter.run.runner import RunOptions, run_share
from splitter.store.frames import FrameWriter
from splitter.store.results import ResultsReader


class SlowEngine:
    """Runs one job per step in this process, after waiting the step's whole timeout."""

    def __init__(self, setup: JobSetup, pool: JobPool, job_ids: Sequence[int]) -> None:
        self.setup, self.pool, self.pending = setup, pool, list(job_ids)
        self.columns: tuple[str, ...] | None = None
        self.stopping = False

    @property
    def finished(self) -> bool:
        return not self.pending

    def start(self) -> None:
        pass

    def step(self, timeout: float) -> Received:
        time.sleep(timeout)
        job_id = self.pending.pop(0)
        return [(job_id, "ok", 1.0, 0.5, "", self.setup.job(self.pool.items[job_id]))]

    def running(self) -> list[RunningJob]:
        return []

    def request_stop(self) -> None:
        self.stopping = True

    def close(self) -> None:
        pass

    def kill(self) -> None:
        pass

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


def slow_engine(
    setup: JobSetup, pool: JobPool, ids: Sequence[int], on_log: LogSink, timeout: float | None
) -> SlowEngine:
    return SlowEngine(setup, pool, ids)


def double(x: int) -> dict[str, int]:
    return {"twice": 2 * x}


def fill_the_disk_after(monkeypatch: pytest.MonkeyPatch, frames: int) -> None:
    """The results file takes ``frames`` frames; then every write is ENOSPC."""
    real = FrameWriter.write_frame
    written = []

    def write_frame(self: FrameWriter, data: bytes | memoryview) -> None:
        if self.path.name == "results.csv.zst":
            if len(written) >= frames:
                raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
            written.append(len(data))
        real(self, data)

    monkeypatch.setattr(FrameWriter, "write_frame", write_frame)


def run_until_full(tmp_path: Path, flush_interval: float) -> dict[str, object]:
    """Run five jobs into a disk that fills; return the manifest the run left."""
    configs = write_configs(
        tmp_path / "configs", config=f"[run]\nflush_interval = {flush_interval}\n"
    )
    campaign = load_campaign(locate_configs(configs), list(range(5)))
    options = RunOptions(out=tmp_path / "out", machine="all", workers=1, stream=io.StringIO())
    with pytest.raises(OSError, match="No space left on device"):
        run_share(campaign, double, all_jobs(campaign.plan), options, slow_engine)
    manifest: dict[str, object] = json.loads((tmp_path / "out/all/manifest.json").read_text())
    return manifest


def rows_on_disk(tmp_path: Path) -> int:
    return len(list(ResultsReader(tmp_path / "out/all/results.csv.zst")))


def test_a_disk_that_fills_mid_run_leaves_counts_of_the_rows_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill_the_disk_after(monkeypatch, frames=3)
    manifest = run_until_full(tmp_path, flush_interval=0.05)  # a flush after every job
    assert rows_on_disk(tmp_path) == 3
    assert manifest["state"] == "interrupted"
    assert manifest["counts"] == {"ok": 3, "error": 0, "crashed": 0, "timeout": 0, "remaining": 2}
    assert manifest["jobs_done"] == 3


def test_a_disk_full_at_the_last_flush_counts_no_row_as_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill_the_disk_after(monkeypatch, frames=0)
    manifest = run_until_full(tmp_path, flush_interval=1.0)  # every row in the last flush
    assert rows_on_disk(tmp_path) == 0
    assert manifest["counts"] == {"ok": 0, "error": 0, "crashed": 0, "timeout": 0, "remaining": 5}
