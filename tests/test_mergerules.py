"""Tests for splitter.merge.rules: the winner rule, BestRows, columns, frame index, report."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from splitter.merge.rules import (
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
SEED = bytes(range(32))
OK, ERROR, CRASHED, TIMEOUT = range(4)


def payload_start(payload: tuple[float, str]) -> float:
    return payload[0]


def new_best(total: int) -> BestRows[tuple[float, str]]:
    return BestRows(total, payload_start)


def test_ok_beats_any_failure_whatever_the_start() -> None:
    assert beats(OK, 1.0, ERROR, 9.0)
    assert not beats(CRASHED, 9.0, OK, 1.0)


def test_among_equals_the_later_start_wins() -> None:
    assert beats(OK, 2.0, OK, 1.0)
    assert not beats(OK, 1.0, OK, 2.0)
    assert beats(TIMEOUT, 2.0, ERROR, 1.0)  # all failures are equals
    assert not beats(ERROR, 1.0, TIMEOUT, 2.0)


def test_a_full_tie_goes_to_the_attempt_read_later() -> None:
    assert beats(OK, 5.0, OK, 5.0)
    assert beats(ERROR, 5.0, CRASHED, 5.0)


def test_best_rows_keeps_the_winner_and_counts_duplicates() -> None:
    best = new_best(4)
    best.offer(0, ERROR, 10.0, (10.0, "a"))
    best.offer(0, OK, 1.0, (1.0, "b"))
    best.offer(0, ERROR, 20.0, (20.0, "c"))
    best.offer(2, CRASHED, 3.0, (3.0, "d"))
    assert best.kept(0, 4) == [(1.0, "b"), (3.0, "d")]
    assert best.duplicates == 2
    assert (best.count("ok"), best.count("crashed"), best.present) == (1, 1, 2)
    assert best.ids("crashed") == [2]
    assert best.ids(None) == [1, 3]


def test_offer_many_keeps_new_jobs_in_bulk_and_the_rest_by_the_rule() -> None:
    best = new_best(5)
    best.offer(1, ERROR, 5.0, (5.0, "old"))
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


def offered_one_by_one(rows: list[tuple[int, int, float]]) -> BestRows[tuple[float, str]]:
    best = new_best(8)
    for number, (job_id, code, start) in enumerate(rows):
        best.offer(job_id, code, start, (start, str(number)))
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


@settings(max_examples=80)
@given(rows=attempts, seed=st.randoms())
def test_the_winner_does_not_depend_on_the_reading_order_without_full_ties(
    rows: list[tuple[int, int, float]], seed: object
) -> None:
    # One attempt per (job, start): then no two attempts of a job tie fully.
    unique = list(
        {(job_id, start): (job_id, code, start) for job_id, code, start in rows}.values()
    )
    shuffled = list(unique)
    seed.shuffle(shuffled)  # type: ignore[attr-defined]
    first, second = offered_one_by_one(unique), offered_one_by_one(shuffled)
    assert [p[0] for p in first.kept(0, 8)] == [p[0] for p in second.kept(0, 8)]
    assert first.codes.tolist() == second.codes.tolist()


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
        with ResultsWriter(path, "alpha", ("x", "y")) as writer:
            for job_id, status, error, value in rows:
                writer.add(job_id, status, 1.5, 0.25, error, {"x": value, "y": 1})
                writer.flush()
        frames = list(FrameReader(path))
    return [frames[0].partition(b"\n")[2], *frames[1:]]


def test_the_frame_index_finds_job_ids_and_statuses() -> None:
    [frame] = writer_frames([(7, "ok", "", 1.5)])
    frame += b"123456,beta,timeout,2.0,1.0,lost,,,\n"
    index = plain_frame_index(frame, len(BASE_COLUMNS) + 3)
    assert index is not None
    assert index[0].tolist() == [7, 123456]
    assert index[1].tolist() == [STATUSES.index("ok"), STATUSES.index("timeout")]


def test_the_frame_index_leaves_other_frames_to_csv() -> None:
    width = len(BASE_COLUMNS) + 3
    good = b"1,alpha,ok,1.5,0.2,,1,2,\n"
    assert plain_frame_index(good, width) is not None
    for bad in (
        b'1,alpha,ok,1.5,0.2,,"1,5",2,\n',  # quoted
        b"1,alpha,ok,1.5,0.2,,1,2\n",  # a cell short
        b"1,alpha,ok,1.5,0.2,,1,2,{}\n",  # extra not empty
        b"-1,alpha,ok,1.5,0.2,,1,2,\n",  # not a plain number
        b",alpha,ok,1.5,0.2,,1,2,\n",  # no job id
        b"1,alpha,okay,1.5,0.2,,1,2,\n",  # not a status
        b"1,alpha,crashes,1.5,0.2,,1,2,\n",  # as long as crashed, not it
        b"1,alpha,ok,1.5,0.2,,1,2,\n1,alpha,ok,1.5,0.2,,1,2,",  # no final line break
        good + b"1,alpha,ok,1.5,0.2,,1,2,,\n" + b"1,alpha,ok,1.5,0.2,,1,\n",  # counts even out
    ):
        assert plain_frame_index(bad, width) is None, bad


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
        index = plain_frame_index(frame, len(BASE_COLUMNS) + 3)
        parsed = list(csv.reader(io.StringIO(frame.decode())))
        if index is None:
            assert b'"' in frame  # only quoted cells need csv
            continue
        assert index[0].tolist() == [int(cells[0]) for cells in parsed]
        assert [STATUSES[code] for code in index[1]] == [cells[2] for cells in parsed]


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
    best.offer(0, OK, 1.0, (1.0, ""))
    best.offer(1, ERROR, 1.0, (1.0, ""))
    best.offer(1, ERROR, 2.0, (2.0, ""))
    best.offer(3, CRASHED, 1.0, (1.0, ""))
    folders = [counts("alpha", 3, {"ok": 1, "error": 2}), counts("beta", 1, {"crashed": 1})]
    return merge_report(DIGEST, SEED, best, folders, [("out/beta/log.zst", "cut off")])


def test_the_report_lists_counts_ids_missing_and_machines() -> None:
    report = report_of_five()
    assert report == {
        "digest": DIGEST.hex(),
        "digest_grouped": "0001 0203 0405 0607",
        "run_seed": SEED.hex(),
        "expected": 5,
        "ok": 1,
        "failed": {"error": 1, "crashed": 1, "timeout": 0},
        "failed_ids": {"error": [1], "crashed": [3], "timeout": []},
        "missing": [2, 4],
        "duplicates": 1,
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
    report = merge_report(DIGEST, SEED, best, [counts("alpha", 0, {})], [])
    assert merge_summary(report, "M") == (
        "merged 1 folder (alpha): 25 expected, 0 ok, 0 failed, 25 missing"
        " (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ... 15 more); written to M"
    )
