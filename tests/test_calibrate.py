"""calibrate's figures: rounds of a fixed sample, per-thread rates, speed-up, the entry."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import splitter.run.calibrate as calibrate_module
from splitter.campaign.load import load_campaign, locate_configs
from splitter.campaign.plan import all_jobs
from splitter.errors import UsageError
from splitter.run.calibrate import Calibration, Phase, calibrate, save_calibration
from splitter.run.engine import JobSetup, LogSink, Received

# One worker: 5 rounds of 8 jobs in 8 s of work. Four workers: 15 rounds in 30 s (slower each).
RESULT = Calibration("lab-1", 4, 8, Phase(1, 5, 40, 8.0, 8.5), Phase(4, 15, 120, 30.0, 8.2))


def test_the_per_thread_rate_counts_the_jobs_own_durations() -> None:
    assert (RESULT.one.per_thread_rate, RESULT.all.per_thread_rate) == (5.0, 4.0)


def test_the_perf_is_the_per_thread_rate_with_every_worker_busy() -> None:
    # 4 x 4.0 jobs/s is what the host does, not 4 x 5.0.
    assert RESULT.perf == 4.0


def test_the_speed_up_is_all_workers_rate_over_one_workers() -> None:
    assert RESULT.speedup == 3.2


def test_the_printed_lines_end_with_the_machines_json_entry() -> None:
    assert RESULT.lines() == [
        "sample: the first 8 jobs of the plan order, the same on every host",
        "one worker: 5 rounds of the sample in 8.00s of work: 5 jobs/s per thread",
        "4 workers: 15 rounds of the sample, 4 jobs/s per thread, speed-up 3.20x over one worker",
        "cores this process may use: 4",
        'machines.json entry: "lab-1": [4.0, 4]',
    ]


def test_with_one_worker_there_is_one_phase_to_print_and_save(tmp_path: Path) -> None:
    only = Phase(1, 1, 7, 3.0, 3.1)
    single = Calibration("a", 1, 7, only, only)
    assert single.perf == 2.333  # four significant digits
    assert single.lines()[1:] == [
        "one worker: 1 round of the sample in 3.00s of work: 2.333 jobs/s per thread",
        "cores this process may use: 1",
        'machines.json entry: "a": [2.333, 1]',
    ]
    saved = json.loads(save_calibration(tmp_path, single).read_text())
    assert [phase["rounds"] for phase in saved["phases"]] == [1]


def test_the_outcome_is_saved_in_the_machines_folder(tmp_path: Path) -> None:
    path = save_calibration(tmp_path, RESULT)
    assert path == tmp_path / "lab-1" / "calibration.json"
    saved = json.loads(path.read_text())
    assert (saved["entry"], saved["speedup"], saved["per_thread_rate"]) == ([4.0, 4], 3.2, 5.0)
    assert saved["sample_jobs"] == 8


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0


class _ScriptedPool:
    """One worker whose jobs take their size divided by the host's speed, on a fake clock."""

    def __init__(
        self, clock: _Clock, sizes: dict[int, float], speed: float, job_ids: Sequence[int]
    ) -> None:
        self.clock, self.sizes, self.speed, self.queue = clock, sizes, speed, list(job_ids)
        self.stopping = False

    @property
    def finished(self) -> bool:
        return self.stopping or not self.queue

    def start(self) -> None:
        pass

    def step(self, timeout: float) -> Received:
        job = self.queue.pop(0)
        seconds = self.sizes[job] / self.speed
        self.clock.now += seconds
        return [(job, "ok", 0.0, seconds, "", None)]

    def request_stop(self) -> None:
        self.stopping = True

    def close(self) -> None:
        pass


SIZES = {job: 1.0 + (job % 7) ** 2 for job in range(100)}  # They vary, as a heavy tail does.


def _calibrate_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, speed: float, seconds: float
) -> Calibration:
    """calibrate on one worker of a scripted host whose clock is the jobs' durations."""
    configs = tmp_path / "configs"
    configs.mkdir(parents=True)
    (configs / "machines.json").write_text('{"a": [1, 1]}')
    campaign = load_campaign(locate_configs(configs), list(range(100)))
    clock = _Clock()

    def pool(workers: int) -> Any:
        def factory(
            setup: JobSetup, items: Any, ids: Sequence[int], log: LogSink, timeout: Any
        ) -> _ScriptedPool:
            return _ScriptedPool(clock, SIZES, speed, ids)

        return factory

    monkeypatch.setattr(calibrate_module.time, "monotonic", lambda: clock.now)
    return calibrate(
        campaign, lambda item: item, "a", seconds=seconds, workers=1, cores=1, pool=pool,
        sample_size=4,
    )  # fmt: skip


def _round_size(tmp_path: Path) -> float:
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "machines.json").write_text('{"a": [1, 1]}')
    campaign = load_campaign(locate_configs(tmp_path / "configs"), list(range(100)))
    return sum(SIZES[job] for job in all_jobs(campaign.plan)[:4].tolist())


def test_only_whole_rounds_of_the_sample_count_so_a_fast_and_a_slow_host_time_the_same_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In a budget of 1.1 rounds of work, the fast host (speed 2) gets 2.2 rounds done and
    # the slow one (speed 0.5) 1; the fast host's third, partial round does not count.
    budget = 1.1 * _round_size(tmp_path)
    fast = _calibrate_at(tmp_path / "fast", monkeypatch, speed=2.0, seconds=budget)
    slow = _calibrate_at(tmp_path / "slow", monkeypatch, speed=0.5, seconds=budget)
    assert (fast.one.rounds, slow.one.rounds) == (2, 1)
    assert fast.one.per_thread_rate == pytest.approx(4 * slow.one.per_thread_rate)


def test_a_phase_runs_at_least_one_whole_round_however_short_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _calibrate_at(tmp_path, monkeypatch, speed=1.0, seconds=1e-9)
    assert (result.one.rounds, result.one.jobs) == (1, 4)


def test_an_empty_pool_has_nothing_to_calibrate_with(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "machines.json").write_text('{"a": [1, 1]}')
    campaign = load_campaign(locate_configs(tmp_path / "configs"), [])
    never: Any = None  # No engine is started.
    with pytest.raises(UsageError, match="the campaign's pool is empty"):
        calibrate(campaign, len, "a", seconds=1, workers=1, cores=1, pool=never)
