"""The campaign's story as data: runs by kind, the lost host, who rescued its jobs, pauses."""

from __future__ import annotations

from pathlib import Path

from splitter.report.hosts import Pause, host_record
from splitter.report.schema import parse_report
from splitter.report.story import LostHost, MissingOwner, Rescuer, RunBlock, campaign_story
from test_report_stats import columns

RUN = {"busy_seconds": 1.0, "workers": 2}
# Final merge: alpha ran jobs 0, 1; gamma was lost; alpha rescued 2, beta rescued 3 and 4.
COLS = columns(
    [(0, 0, 0, 10.0, 1.0), (1, 0, 0, 11.0, 1.0), (2, 0, 0, 50.0, 1.0), (3, 1, 0, 51.0, 1.0),
     (4, 1, 1, 52.0, 1.0)]
)  # fmt: skip
PARTIAL = parse_report(
    {"missing": [2, 3, 4, 5], "machines_seen": ["alpha", "beta"],
     "missing_by_machine": {"gamma": [2, 3, 4], "beta": [5]}},
    Path("merged/report.json"),
)  # fmt: skip
FINAL = parse_report(
    {"machines": [{"machine": "alpha", "folder": "out/alpha", "rows": 2},
                  {"machine": "alpha", "folder": "out/alpha.rescue-ab", "rows": 1},
                  {"machine": "beta", "folder": "out/beta.rescue-ab", "rows": 2}]},
    Path("whole/report.json"),
)  # fmt: skip
RECORDS = {
    "out/alpha": host_record({"machine": "alpha", "state": "finished", "runs": [
        {**RUN, "started": 9.0, "ended": 10.5, "jobs_done": 1, "wall_seconds": 1.5},
        {**RUN, "started": 10.8, "ended": 12.0, "jobs_done": 1, "wall_seconds": 1.2},
    ], "paused_intervals": [[11.5, 11.7, "owner at the keyboard"], [11.9, None, "load"]]},
        "out/alpha"),
    "out/alpha.rescue-ab": host_record({"machine": "alpha", "rescue": "merged/report.json",
        "state": "running",
        "runs": [{**RUN, "started": 49.0, "ended": 51.0, "jobs_done": 1, "wall_seconds": 2.0}]},
        "out/alpha.rescue-ab"),
}  # fmt: skip


def test_runs_are_original_resumed_or_rescue_first_started_first() -> None:
    story = campaign_story(FINAL, RECORDS, {}, COLS)
    assert story.blocks == (
        RunBlock("alpha", "out/alpha", "original", 9.0, 10.5, 1, 2, 1.5, "finished"),
        RunBlock("alpha", "out/alpha", "resumed", 10.8, 12.0, 1, 2, 1.2, "finished"),
        RunBlock("alpha", "out/alpha.rescue-ab", "rescue", 49.0, 51.0, 1, 2, 2.0, "running"),
    )
    assert story.pauses == (
        ("alpha", Pause(11.5, 11.7, "owner at the keyboard")),
        ("alpha", Pause(11.9, None, "load")),
    )  # fmt: skip


def test_a_lost_host_names_its_jobs_and_who_rescued_them() -> None:
    story = campaign_story(FINAL, RECORDS, {"merged/report.json": PARTIAL}, COLS)
    assert story.lost == (
        LostHost("gamma", False, (2, 3, 4), (("alpha", 1), ("beta", 2)), 0, "merged/report.json"),
        LostHost("beta", True, (5,), (), 1, "merged/report.json"),
    )


def test_a_partial_merge_without_owners_still_names_the_missing_jobs() -> None:
    older = parse_report({"missing": [2, 3]}, Path("merged/report.json"))
    story = campaign_story(FINAL, RECORDS, {"merged/report.json": older}, COLS)
    assert story.lost == (
        LostHost("", False, (2, 3), (("alpha", 1), ("beta", 1)), 0, "merged/report.json"),
    )


def test_rescue_folders_are_known_by_their_manifest_or_else_their_name() -> None:
    story = campaign_story(FINAL, RECORDS, {}, COLS)
    assert story.rescuers == (
        Rescuer("alpha", "out/alpha.rescue-ab", 1, "merged/report.json"),
        Rescuer("beta", "out/beta.rescue-ab", 2, None),
    )


def test_a_partial_report_groups_its_missing_jobs_by_owner() -> None:
    partial = parse_report(
        {"missing": [2, 3, 5], "machines_seen": ["beta"],
         "machines": [{"machine": "beta", "state": "interrupted"}],
         "missing_by_machine": {"gamma": [2, 3], "beta": [5], "alpha": []}},
        Path("merged/report.json"),
    )  # fmt: skip
    assert campaign_story(partial, {}, {}, COLS).missing == (
        MissingOwner("gamma", (2, 3), False, ""), MissingOwner("beta", (5,), True, "interrupted")
    )  # fmt: skip
