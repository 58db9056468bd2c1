"""Tests for the owner's control of a run: control.json, and OwnerControl driving an engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from splitter.campaign.hours import parse_hours
from splitter.campaign.owner import OwnerSettings
from splitter.run.engine import RunningJob
from splitter.run.owner.control import OwnerControl, earlier_intervals
from splitter.run.owner.policy import Readings
from splitter.store.control import (
    CONTROL_NAME,
    Control,
    control_signature,
    read_control,
    write_control,
)
from splitter.store.frames import CorruptFileError
from splitter.store.manifest import write_manifest


def test_a_request_reads_back_as_written_and_its_signature_moves(tmp_path: Path) -> None:
    assert read_control(tmp_path) is None
    assert control_signature(tmp_path) is None
    write_control(tmp_path, Control("run1", "stop", 3))
    first = control_signature(tmp_path)
    assert read_control(tmp_path) == Control("run1", "stop", 3)
    write_control(tmp_path, Control("run1", None, 3))
    assert read_control(tmp_path) == Control("run1", None, 3)
    assert control_signature(tmp_path) not in (None, first)


@pytest.mark.parametrize(
    "text", ["", "[]", '{"pause": "stop"}', '{"run": "r", "pause": "now"}',
             '{"run": "r", "workers": 0}', '{"run": "r", "workers": true}', "\\xff"],
)  # fmt: skip
def test_a_request_splitter_did_not_write_is_named(tmp_path: Path, text: str) -> None:
    (tmp_path / CONTROL_NAME).write_text(text)
    with pytest.raises(CorruptFileError) as caught:
        read_control(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / CONTROL_NAME} is not a request splitter wrote; move it aside, then pause,"
        " continue or set the workers again"
    )


class FakeEngine:
    """An engine that records what the owner asked of it."""

    def __init__(self, stops_in_place: bool = True, most_workers: int | None = 4) -> None:
        self.stops_in_place, self.most_workers = stops_in_place, most_workers
        self.calls: list[tuple[str, object]] = []
        self.paused_in_place = False

    def running(self) -> list[RunningJob]:
        return [RunningJob(3, 1.0, 0.0, 0.0)]

    def pause(self, in_place: bool) -> None:
        self.calls.append(("pause", in_place))

    def resume(self) -> None:
        self.calls.append(("resume", None))

    def set_workers(self, count: int) -> None:
        self.calls.append(("workers", count))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ScriptedReader:
    """Readings the test sets: others' load, at noon on a Tuesday unless told."""

    def __init__(self) -> None:
        self.unreadable: list[str] = []
        self.load: float | None = None
        self.minute = 12 * 60

    def read(self, clock: float, wall: float, running_jobs: int) -> Readings:
        return Readings(clock, 1, self.minute, self.load, None)


NO_RULES = OwnerSettings()


def control_for(
    tmp_path: Path, rules: OwnerSettings = NO_RULES, reader: object = None
) -> tuple[OwnerControl, Clock]:
    clock = Clock()
    owner = OwnerControl(
        tmp_path, rules, 2, clock=clock, wall=clock, reader=reader,  # type: ignore[arg-type]
    )  # fmt: skip
    return owner, clock


def test_the_first_poll_publishes_what_the_engine_can_do(tmp_path: Path) -> None:
    owner, _ = control_for(tmp_path)
    assert "most_workers" not in owner.fields()["owner"]  # type: ignore[operator]
    assert owner.poll(FakeEngine(stops_in_place=False, most_workers=None)) is True
    assert owner.fields() == {
        "owner": {"run": owner.run, "workers": 2, "paused": None, "stops_in_place": False,
                  "most_workers": None},
        "paused_intervals": [],
    }  # fmt: skip


def test_a_pause_by_hand_stops_the_jobs_and_continue_ends_the_interval(tmp_path: Path) -> None:
    owner, clock = control_for(tmp_path)
    engine = FakeEngine()
    owner.poll(engine)
    write_control(tmp_path, Control(owner.run, "stop"))
    clock.now += 1
    assert owner.poll(engine) is True
    assert engine.calls == [("pause", True)]
    assert owner.fields()["owner"]["paused"] == {  # type: ignore[index]
        "since": 1001.0, "reason": "by hand", "by_hand": True, "in_place": True,
    }  # fmt: skip
    assert owner.poll(engine) is False  # nothing new
    write_control(tmp_path, Control(owner.run, None))
    clock.now += 30
    assert owner.poll(engine) is True
    assert engine.calls == [("pause", True), ("resume", None)]
    assert owner.fields()["paused_intervals"] == [[1001.0, 1031.0, "by hand"]]


def test_a_request_for_an_earlier_run_of_the_folder_is_ignored(tmp_path: Path) -> None:
    write_control(tmp_path, Control("an-earlier-run", "stop", 1))
    owner, _ = control_for(tmp_path)
    engine = FakeEngine()
    owner.poll(engine)
    assert engine.calls == []


def test_a_soft_pause_lets_jobs_finish_and_an_engine_that_cannot_stop_them_does_so(
    tmp_path: Path,
) -> None:
    owner, clock = control_for(tmp_path)
    engine = FakeEngine(stops_in_place=False)
    owner.poll(engine)
    write_control(tmp_path, Control(owner.run, "stop"))
    clock.now += 1
    owner.poll(engine)
    assert engine.calls == [("pause", False)]


def test_workers_by_hand_reach_the_engine_within_its_range(tmp_path: Path) -> None:
    owner, clock = control_for(tmp_path)
    engine = FakeEngine(most_workers=4)
    owner.poll(engine)
    write_control(tmp_path, Control(owner.run, None, 1))
    clock.now += 1
    assert owner.poll(engine) is True
    assert engine.calls == [("workers", 1)]
    assert owner.fields()["owner"]["workers"] == 1  # type: ignore[index]


def test_the_policy_pauses_and_continues_after_its_grace(tmp_path: Path) -> None:
    reader = ScriptedReader()
    rules = OwnerSettings(max_load=1.0, grace=10, check_interval=1)
    owner, clock = control_for(tmp_path, rules, reader)
    engine = FakeEngine()
    owner.poll(engine)
    reader.load = 1.7
    clock.now += 1
    assert owner.poll(engine) is True
    reason = "load of other processes above 1"
    assert owner.fields()["paused_intervals"] == [[1001.0, None, reason]]
    reader.load = 0.2
    for _ in range(10):
        clock.now += 1
        owner.poll(engine)
    assert engine.calls == [("pause", True)]
    clock.now += 1
    owner.poll(engine)
    assert engine.calls == [("pause", True), ("resume", None)]
    assert owner.fields()["paused_intervals"] == [[1001.0, 1012.0, reason]]


def test_a_pause_by_hand_outlasts_the_policy_and_splits_the_interval(tmp_path: Path) -> None:
    reader = ScriptedReader()
    rules = OwnerSettings(hours=parse_hours("19:00-07:00"), grace=0, check_interval=1)
    owner, clock = control_for(tmp_path, rules, reader)
    engine = FakeEngine()
    owner.poll(engine)  # noon: outside the hours
    write_control(tmp_path, Control(owner.run, "stop"))
    clock.now += 1
    owner.poll(engine)
    reader.minute = 20 * 60
    clock.now += 1
    owner.poll(engine)
    assert engine.calls == [("pause", True)]  # still paused, by hand now
    assert owner.fields()["paused_intervals"] == [
        [1000.0, 1001.0, "outside hours 19:00-07:00"], [1001.0, None, "by hand"],
    ]  # fmt: skip


def test_the_end_of_the_run_closes_an_open_interval(tmp_path: Path) -> None:
    owner, clock = control_for(tmp_path)
    engine = FakeEngine()
    write_control(tmp_path, Control(owner.run, "finish"))
    owner.poll(engine)
    clock.now += 5
    fields = owner.fields(ended=True)
    assert fields["paused_intervals"] == [[1000.0, 1005.0, "by hand"]]
    assert fields["owner"]["paused"] is None  # type: ignore[index]


def test_a_resumed_run_carries_the_intervals_closing_a_killed_runs_at_its_last_update(
    tmp_path: Path,
) -> None:
    manifest = {"updated": 2000.5, "paused_intervals": [[10, 20, "by hand"],
                [1900.0, None, "outside hours sat"], ["bad"], [1, 2, 3]]}  # fmt: skip
    write_manifest(tmp_path / "manifest.json", manifest)
    assert earlier_intervals(tmp_path) == [
        [10, 20, "by hand"], [1900.0, 2000.5, "outside hours sat"],
    ]  # fmt: skip
    (tmp_path / "manifest.json").write_text(json.dumps({"paused_intervals": "no"}))
    assert earlier_intervals(tmp_path) == []
