"""Tests for splitter.merge.rules: the winner rule, BestRows, columns, frame index, report."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from labels import LABELS, key_of
from splitter.campaign.identity import parse_key_texts
from splitter.merge.rules import (
    Attempt,
    BestRows,
    FolderCounts,
    beats,
    column_layout,
    merge_report,
    merge_summary,
    merged_columns,
    plain_frame_index,
    wall_seconds,
)
from splitter.store.frames import FrameReader
from splitter.store.results import BASE_COLUMNS, STATUSES, ResultsWriter

DIGEST = bytes(range(32))
CAMPAIGN = {
    "digest": DIGEST.hex(), "pool_digest": "11" * 32, "config_digest": "22" * 32,
    "campaign_seed": "33" * 32,
}  # fmt: skip
OK, ERROR, CRASHED, TIMEOUT = range(4)
Payload = tuple[float, str]
"""A kept row in these tests: its start and its values (the machine is always alpha)."""


def attempt(code: int, start: float, machine: str = "alpha", values: str = "") -> Attempt:
    return Attempt(code, start, machine, values)


def payload_attempt(payload: Payload, code: int) -> Attempt:
    return attempt(code, payload[0], "alpha", payload[1])


def new_best(total: int) -> BestRows[Payload]:
    return BestRows(total, payload_attempt)


def test_ok_beats_any_failure_whatever_the_start() -> None:
    assert beats(attempt(OK, 1.0), attempt(ERROR, 9.0))
    assert not beats(attempt(CRASHED, 9.0), attempt(OK, 1.0))


def test_among_equals_the_later_start_wins() -> None:
    assert beats(attempt(OK, 2.0), attempt(OK, 1.0))
    assert not beats(attempt(OK, 1.0), attempt(OK, 2.0))
    assert beats(attempt(TIMEOUT, 2.0), attempt(ERROR, 1.0))  # all failures are equals
    assert not beats(attempt(ERROR, 1.0), attempt(TIMEOUT, 2.0))
    assert beats(attempt(OK, 2.0, "alpha", "a"), attempt(OK, 1.0, "zeta", "z"))


def test_a_tie_in_start_goes_to_the_machine_then_the_values_that_sort_last() -> None:
    assert beats(attempt(OK, 5.0, "beta"), attempt(OK, 5.0, "alpha"))
    assert not beats(attempt(OK, 5.0, "alpha"), attempt(OK, 5.0, "beta"))
    assert beats(attempt(ERROR, 5.0, "alpha", "2"), attempt(CRASHED, 5.0, "alpha", "1"))
    assert not beats(attempt(OK, 5.0, "alpha", "1"), attempt(OK, 5.0, "alpha", "2"))


def test_a_full_tie_keeps_the_attempt_already_kept() -> None:
    assert not beats(attempt(OK, 5.0, "alpha", "1"), attempt(OK, 5.0, "alpha", "1"))


def test_best_rows_keeps_the_winner_and_counts_duplicates() -> None:
    best = new_best(4)
    best.offer(0, ERROR, (10.0, "a"))
    best.offer(0, OK, (1.0, "b"))
    best.offer(0, ERROR, (20.0, "c"))
    best.offer(2, CRASHED, (3.0, "d"))
    assert best.kept(0, 4) == [(1.0, "b"), (3.0, "d")]
    assert best.duplicates == 2
    assert (best.count("ok"), best.count("crashed"), best.present) == (1, 1, 2)
    assert best.ids("crashed") == [2]
    assert best.ids(None) == [1, 3]
    assert best.conflicts == set()


def test_two_ok_attempts_of_different_values_are_a_conflict_and_equal_ones_are_not() -> None:
    best = new_best(3)
    best.offer(0, OK, (1.0, "x"))
    best.offer(0, OK, (2.0, "y"))
    best.offer(1, OK, (1.0, "x"))
    best.offer(1, OK, (2.0, "x"))
    best.offer(2, ERROR, (1.0, "x"))
    best.offer(2, OK, (2.0, "y"))
    assert best.kept(0, 3) == [(2.0, "y"), (2.0, "x"), (2.0, "y")]
    assert best.conflicts == {0}


def test_offer_many_keeps_new_jobs_in_bulk_and_the_rest_by_the_rule() -> None:
    best = new_best(5)
    best.offer(1, ERROR, (5.0, "old"))
    ids = np.array([0, 1, 3, 0], dtype=np.int64)
    codes = np.array([ERROR, OK, OK, ERROR], dtype=np.uint8)
    best.offer_many(ids, codes, [(1.0, "a"), (2.0, "b"), (3.0, "c"), (4.0, "d")])
    assert best.kept(0, 5) == [(4.0, "d"), (2.0, "b"), (3.0, "c")]
    assert best.duplicates == 2


attempts = st.lists(
    st.tuples(
        st.integers(0, 7), st.sampled_from(range(len(STATUSES))), st.integers(0, 5).map(float)
    ),
    max_size=40,
)


def offered_one_by_one(rows: list[tuple[int, int, float]]) -> BestRows[Payload]:
    best = new_best(8)
    for number, (job_id, code, start) in enumerate(rows):
        best.offer(job_id, code, (start, str(number)))
    return best


@settings(max_examples=80)
@given(before=attempts, batch=attempts)
def test_offer_many_equals_offering_one_by_one(
    before: list[tuple[int, int, float]], batch: list[tuple[int, int, float]]
) -> None:
    expected = offered_one_by_one(before + batch)
    best = offered_one_by_one(before)
    payloads = [(start, str(len(before) + n)) for n, (_, _, start) in enumerate(batch)]
    ids = np.array([job_id for job_id, _, _ in batch], dtype=np.int64)
    codes = np.array([code for _, code, _ in batch], dtype=np.uint8)
    best.offer_many(ids, codes, payloads)
    assert best.kept(0, 8) == expected.kept(0, 8)
    assert best.codes.tolist() == expected.codes.tolist()
    assert best.duplicates == expected.duplicates == len(before) + len(batch) - best.present


def offered_with_values(rows: list[tuple[int, int, float, str]]) -> BestRows[Payload]:
    best = new_best(8)
    for job_id, code, start, values in rows:
        best.offer(job_id, code, (start, values))
    return best


@settings(max_examples=80)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 7),
            st.sampled_from(range(len(STATUSES))),
            st.integers(0, 2).map(float),
            st.sampled_from("xyz"),
        ),
        max_size=40,
    ),
    seed=st.randoms(),
)
def test_the_winner_does_not_depend_on_the_reading_order_without_full_ties(
    rows: list[tuple[int, int, float, str]], seed: object
) -> None:
    # One attempt per (job, start, values): then no two attempts of a job tie fully,
    # even when they start at the same time.
    unique = list({(row[0], row[2], row[3]): row for row in rows}.values())
    shuffled = list(unique)
    seed.shuffle(shuffled)  # type: ignore[attr-defined]
    first, second = offered_with_values(unique), offered_with_values(shuffled)
    assert first.kept(0, 8) == second.kept(0, 8)
    assert first.codes.tolist() == second.codes.tolist()
    assert first.conflicts == second.conflicts


@settings(max_examples=80)
@given(rows=attempts)
def test_every_job_is_kept_once_in_job_id_order(rows: list[tuple[int, int, float]]) -> None:
    best = offered_one_by_one(rows)
    kept_jobs = [job_id for job_id in range(8) if best.codes[job_id] != 255]
    assert kept_jobs == sorted({job_id for job_id, _, _ in rows})
    assert len(best.kept(0, 8)) == len(kept_jobs)
    assert best.ids(None) == [job_id for job_id in range(8) if job_id not in kept_jobs]


def test_merged_columns_are_the_union_first_seen_then_promoted() -> None:
    columns = merged_columns([("a", "b"), ("b", "c"), ()], ["d", "a", "e"])
    assert columns == (*BASE_COLUMNS, "a", "b", "c", "d", "e")


def test_a_host_whose_columns_start_the_union_needs_no_layout() -> None:
    assert column_layout(("a", "b"), ("a", "b", "c")) is None
    assert column_layout((), ("a",)) is None
    assert column_layout(("b", "c"), ("a", "b", "c")) == (-1, 0, 1)


def writer_frames(rows: list[tuple[int, str, str, object]]) -> list[bytes]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "results.csv.zst"
        with ResultsWriter(path, "alpha", ("x", "y"), LABELS) as writer:
            for job_id, status, error, value in rows:
                writer.add(job_id, status, 1.5, 0.25, error, {"x": value, "y": 1})
                writer.flush()
        frames = list(FrameReader(path))
    return [frames[0].partition(b"\n")[2], *frames[1:]]


def test_the_frame_index_finds_job_ids_statuses_and_keys() -> None:
    [frame] = writer_frames([(7, "ok", "", 1.5)])
    frame += f"123456,beta,timeout,2.0,1.0,lost,{key_of(123456)},123456,,,,\n".encode()
    index = plain_frame_index(frame, len(BASE_COLUMNS) + 3, keys=True)
    assert index is not None
    assert index.job_ids.tolist() == [7, 123456]
    assert index.codes.tolist() == [STATUSES.index("ok"), STATUSES.index("timeout")]
    assert index.keys is not None
    assert index.keys.tolist() == parse_key_texts([key_of(7), key_of(123456)])[0].tolist()
    without = plain_frame_index(frame, len(BASE_COLUMNS) + 3)
    assert without is not None and without.keys is None


KEY = key_of(1).encode()


def test_the_frame_index_leaves_other_frames_to_csv() -> None:
    width = len(BASE_COLUMNS) + 3
    good = b"1,alpha,ok,1.5,0.2,," + KEY + b",,,1,2,\n"
    assert plain_frame_index(good, width, keys=True) is not None
    for bad in (
        b"1,alpha,ok,1.5,0.2,," + KEY + b',,,"1,5",2,\n',  # quoted
        b"1,alpha,ok,1.5,0.2,," + KEY + b",,,1,2\n",  # a cell short
        b"1,alpha,ok,1.5,0.2,," + KEY + b",,,1,2,{}\n",  # extra not empty
        b"-1,alpha,ok,1.5,0.2,," + KEY + b",,,1,2,\n",  # not a plain number
        b",alpha,ok,1.5,0.2,," + KEY + b",,,1,2,\n",  # no job id
        b"1,alpha,okay,1.5,0.2,," + KEY + b",,,1,2,\n",  # not a status
        b"1,alpha,crashes,1.5,0.2,," + KEY + b",,,1,2,\n",  # as long as crashed, not it
        good + b"1,alpha,ok,1.5,0.2,," + KEY + b",,,1,2,",  # no final line break
        good + good[:-1] + b",\n" + good[:-2] + b"\n",  # counts even out
        b"1,alpha,ok,1.5,0.2,," + KEY[:-1] + b",,,1,2,\n",  # a key of 31 digits
        b"1,alpha,ok,1.5,0.2,," + KEY[:-1] + b"g,,,1,2,\n",  # a key with a letter not hex
    ):
        assert plain_frame_index(bad, width, keys=True) is None, bad


@settings(max_examples=50)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 10**12),
            st.sampled_from(STATUSES),
            st.text(max_size=5),
            st.one_of(st.integers(), st.floats(), st.text(max_size=5)),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_the_frame_index_agrees_with_csv_on_what_the_writer_writes(
    rows: list[tuple[int, str, str, object]],
) -> None:
    for frame in writer_frames(rows):
        index = plain_frame_index(frame, len(BASE_COLUMNS) + 3, keys=True)
        parsed = list(csv.reader(io.StringIO(frame.decode())))
        if index is None:
            assert b'"' in frame  # only quoted cells need csv
            continue
        assert index.job_ids.tolist() == [int(cells[0]) for cells in parsed]
        assert [STATUSES[code] for code in index.codes] == [cells[2] for cells in parsed]
        assert index.keys is not None
        assert index.keys.tolist() == parse_key_texts([cells[6] for cells in parsed])[0].tolist()


def test_wall_seconds_come_from_the_manifest_else_from_the_rows() -> None:
    assert wall_seconds("2026-11-20T10:00:00Z", "2026-11-20T10:20:30Z", 1.0, 2.0) == 1230.0
    assert wall_seconds("2026-11-20T10:00:00Z", None, 100.0, 160.5) == 60.5
    assert wall_seconds(None, None, None, None) is None


def counts(machine: str, rows: int, statuses: dict[str, int]) -> FolderCounts:
    return FolderCounts(
        machine, f"out/{machine}", DIGEST.hex(), rows, statuses, 3, "finished", 9.0
    )


def report_of_five() -> dict[str, object]:
    best = new_best(5)
    best.offer(0, OK, (1.0, ""))
    best.offer(1, ERROR, (1.0, ""))
    best.offer(1, ERROR, (2.0, ""))
    best.offer(3, CRASHED, (1.0, ""))
    folders = [counts("alpha", 3, {"ok": 1, "error": 2}), counts("beta", 1, {"crashed": 1})]
    return merge_report(CAMPAIGN, best, folders, [("out/beta/log.zst", "cut off")])


def test_the_report_lists_counts_ids_missing_and_machines() -> None:
    report = report_of_five()
    assert report == {
        "digest": DIGEST.hex(),
        "digest_grouped": "0001 0203 0405 0607",
        "pool_digest": "11" * 32,
        "config_digest": "22" * 32,
        "campaign_seed": "33" * 32,
        "expected": 5,
        "ok": 1,
        "failed": {"error": 1, "crashed": 1, "timeout": 0},
        "failed_ids": {"error": [1], "crashed": [3], "timeout": []},
        "missing": [2, 4],
        "duplicates": 1,
        "conflicts": [],
        "machines": [
            {
                "machine": "alpha",
                "folder": "out/alpha",
                "digest": DIGEST.hex(),
                "rows": 3,
                "ok": 1,
                "failed": {"error": 2, "crashed": 0, "timeout": 0},
                "share": 3,
                "state": "finished",
                "wall_seconds": 9.0,
            },
            {
                "machine": "beta",
                "folder": "out/beta",
                "digest": DIGEST.hex(),
                "rows": 1,
                "ok": 0,
                "failed": {"error": 0, "crashed": 1, "timeout": 0},
                "share": 3,
                "state": "finished",
                "wall_seconds": 9.0,
            },
        ],
        "damaged": [{"file": "out/beta/log.zst", "problem": "cut off"}],
        "inputs": ["out/alpha", "out/beta"],
        "machines_seen": ["alpha", "beta"],
    }


def test_the_summary_says_what_is_ok_failed_and_missing() -> None:
    summary = merge_summary(report_of_five(), "M", ["out/gamma"])
    assert summary == (
        "merged 2 folders (alpha, beta): 5 expected, 1 ok, 2 failed (1 error, 1 crashed),"
        " 2 missing (2, 4), 1 duplicate rows resolved; no results.csv.zst in out/gamma (0 rows);"
        " 1 damaged inputs (see the warnings); written to M"
    )


def test_the_summary_shortens_a_long_missing_list() -> None:
    best = new_best(25)
    report = merge_report(CAMPAIGN, best, [counts("alpha", 0, {})], [])
    assert merge_summary(report, "M") == (
        "merged 1 folder (alpha): 25 expected, 0 ok, 0 failed, 25 missing"
        " (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ... 15 more); written to M"
    )


def test_the_summary_names_conflicting_jobs_and_the_rows_left_out() -> None:
    best = new_best(12)
    for job_id in range(12):
        best.offer(job_id, OK, (1.0, "x"))
        best.offer(job_id, OK, (2.0, "y"))
    report = merge_report(CAMPAIGN, best, [counts("alpha", 24, {})], [])
    report["no_longer_in_pool"] = 3
    assert report["conflicts"] == list(range(12))
    assert merge_summary(report, "M") == (
        "merged 1 folder (alpha): 12 expected, 12 ok, 0 failed, 0 missing, 12 duplicate rows"
        " resolved, 12 jobs with ok rows of different values (kept the later; jobs 0, 1, 2, 3,"
        " 4, 5, 6, 7, 8, 9, ... 2 more), 3 rows of jobs no longer in the pool left out;"
        " written to M"
    )
