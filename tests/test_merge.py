"""Tests for splitter.merge.combine and `merge`, on host folders crafted with the writers."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_module
from labels import LABELS, key_of, plan_record, pool_digest
from splitter.cli import Program, run_cli
from splitter.errors import VerificationError
from splitter.merge.combine import merge_folders, merged_rows
from splitter.store.frames import CorruptFileError, FrameReader, FrameWriter
from splitter.store.logfile import LogFileWriter
from splitter.store.manifest import MANIFEST_FORMAT, write_manifest
from splitter.store.planfile import write_plan_file
from splitter.store.results import BASE_COLUMNS, STATUSES, ResultsReader, ResultsWriter

PLAN = bytes(range(32))
CONFIG = bytes(range(32, 64))
SEED = bytes(range(64, 96))
START = 1_795_000_000.0
Row = tuple[int, str, float, object]


def make_host(
    folder: Path,
    machine: str,
    rows: Sequence[Row] | None,
    *,
    total: int = 6,
    plan: bytes = PLAN,
    digest: bytes | None = None,
    state: str = "finished",
    declared: tuple[str, ...] | None = None,
    log: Sequence[str] = (),
    ended: str | None = "2026-11-20T10:20:00Z",
    config: bytes = CONFIG,
    plan_started: str = "2026-11-20T10:00:00Z",
    owners: Sequence[str] | None = None,
) -> Path:
    """A host folder as `run` leaves it: results (None: no file), log lines, manifest, plan.zst.

    Its plan is of the pool ``range(total)`` (rows carry those jobs' keys, see
    `labels`); ``owners`` names each job's machine in it, by default ``machine``.
    """
    folder.mkdir(parents=True)
    if rows is not None:
        with ResultsWriter(folder / "results.csv.zst", machine, declared, LABELS) as writer:
            for job_id, status, start, value in rows:
                error = "" if status == "ok" else f"{status} in job {job_id}"
                writer.add(job_id, status, start, 0.5, error, value)
                writer.flush()  # one frame per row, so a cut loses only the last
    if log:
        writer_log = LogFileWriter(folder, 1 << 20)
        for line in log:
            writer_log.write(line + "\n")
            writer_log.flush()
        writer_log.close()
    pool = pool_digest(total).hex()
    write_manifest(
        folder / "manifest.json",
        {
            "format": MANIFEST_FORMAT, "machine": machine, "digest": (digest or plan).hex(),
            "plan_digest": plan.hex(), "campaign_seed": SEED.hex(), "config_digest": config.hex(),
            "pool_digest": pool, "total": total, "share": len(rows or ()), "state": state,
            "started": "2026-11-20T10:00:00Z", "ended": ended, "plan_started": plan_started,
            "pools_seen": [pool],
        },
    )  # fmt: skip
    names = list(dict.fromkeys(owners or [machine]))
    owned = [names.index(name) for name in owners] if owners else [0] * total
    write_plan_file(folder, plan_record(plan, total, names, owned))
    return folder


def ok_rows(job_ids: Sequence[int], start: float = START) -> list[Row]:
    return [(j, "ok", start + j, {"value": j * 10}) for j in job_ids]


def three_hosts(tmp_path: Path) -> list[Path]:
    return [
        make_host(tmp_path / "alpha", "alpha", ok_rows([4, 0])),
        make_host(tmp_path / "beta", "beta", [*ok_rows([1]), (3, "error", START, None)]),
        make_host(tmp_path / "gamma", "gamma", ok_rows([2, 5])),
    ]


def merged(out: Path, name: str = "results.csv.zst") -> list[list[str]]:
    return list(merged_rows(out / name))


def report(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "report.json").read_text())
    return data


def cli(argv: Sequence[str], program: Program | None = None) -> int:
    return run_cli(list(argv), program or Program())


def test_three_hosts_merge_into_every_job_once_sorted(tmp_path: Path) -> None:
    result = merge_folders(three_hosts(tmp_path), tmp_path / "M")
    rows = merged(tmp_path / "M")
    assert rows[0] == [*BASE_COLUMNS, "value"]
    assert [(r[0], r[1], r[2], r[-1]) for r in rows[1:]] == [
        ("0", "alpha", "ok", "0"),
        ("1", "beta", "ok", "10"),
        ("2", "gamma", "ok", "20"),
        ("3", "beta", "error", ""),
        ("4", "alpha", "ok", "40"),
        ("5", "gamma", "ok", "50"),
    ]
    assert rows[4][5] == "error in job 3"
    assert result.summary == (
        f"merged 3 folders (alpha, beta, gamma): 6 expected, 5 ok, 1 failed (1 error),"
        f" 0 missing; written to {tmp_path / 'M'}"
    )
    assert result.exit_code(partial=False) == 0
    assert sorted(p.name for p in (tmp_path / "M").iterdir()) == [
        "log.zst",
        "plan.zst",
        "report.json",
        "results.csv.zst",
        "results.types.json",
    ]


def test_the_report_has_counts_ids_and_each_folders_line(tmp_path: Path) -> None:
    folders = three_hosts(tmp_path)
    merge_folders(folders, tmp_path / "M")
    data = report(tmp_path / "M")
    names = ("digest", "digest_grouped", "pool_digest", "config_digest", "campaign_seed")
    assert {k: data[k] for k in (*names, "expected", "ok", "missing", "no_longer_in_pool")} == {
        "digest": PLAN.hex(),
        "digest_grouped": "0001 0203 0405 0607",
        "pool_digest": pool_digest(6).hex(),
        "config_digest": CONFIG.hex(),
        "campaign_seed": SEED.hex(),
        "expected": 6,
        "ok": 5,
        "missing": [],
        "no_longer_in_pool": 0,
    }
    assert data["failed"] == {"error": 1, "crashed": 0, "timeout": 0}
    assert data["failed_ids"] == {"error": [3], "crashed": [], "timeout": []}
    assert (data["duplicates"], data["conflicts"]) == (0, [])
    assert data["plans"] == [
        {"plan_digest": PLAN.hex(), "first_run": "2026-11-20T10:00:00Z",
         "folders": [str(folder) for folder in folders]},
    ]  # fmt: skip
    assert data["damaged"] == []
    assert data["inputs"] == [str(folder) for folder in folders]
    assert data["machines_seen"] == ["alpha", "beta", "gamma"]
    assert data["machines"][1] == {
        "machine": "beta", "folder": str(folders[1]), "digest": PLAN.hex(), "rows": 2,
        "ok": 1, "failed": {"error": 1, "crashed": 0, "timeout": 0}, "share": 2,
        "state": "finished", "wall_seconds": 1200.0,
    }  # fmt: skip


def test_duplicates_go_to_ok_then_the_latest_start_then_the_machine_that_sorts_last(
    tmp_path: Path,
) -> None:
    first = make_host(
        tmp_path / "first", "alpha",
        [(0, "error", START + 9, None), (1, "ok", START + 5, {"v": "a1"}),
         (2, "crashed", START + 3, None), (3, "ok", START + 7, {"v": "a3"}),
         (3, "ok", START + 2, {"v": "a3-older"})],
    )  # fmt: skip
    second = make_host(
        tmp_path / "second", "beta",
        [(0, "ok", START + 1, {"v": "b0"}), (1, "ok", START + 6, {"v": "b1"}),
         (2, "timeout", START + 3, None), (3, "error", START + 8, None)],
    )  # fmt: skip
    result = merge_folders([first, second], tmp_path / "M", plain=True)
    rows = merged(tmp_path / "M", "results.csv")[1:]
    assert [(r[0], r[1], r[2], r[-1]) for r in rows] == [
        ("0", "beta", "ok", "b0"),  # ok beats a later error
        ("1", "beta", "ok", "b1"),  # the later of two oks
        ("2", "beta", "timeout", ""),  # the same start: the machine that sorts last
        ("3", "alpha", "ok", "a3"),  # the later ok of one host beats its older one
    ]
    assert result.report["duplicates"] == 5
    assert result.report["conflicts"] == [1, 3]  # two ok rows of different values
    swapped = merge_folders([second, first], tmp_path / "N", plain=True)
    assert merged(tmp_path / "N", "results.csv")[1:] == rows
    assert swapped.report["conflicts"] == [1, 3]


def test_cells_that_need_quoting_round_trip_through_merge(tmp_path: Path) -> None:
    values = [
        {"text": 'a "quoted", comma', "n": 1.5},
        {"text": "two\nlines\r\nand more", "n": -2},
        {"text": "ünïcødé ✓", "n": None},
        {"text": "", "n": True},
    ]
    rows = [(j, "ok", START + j, value) for j, value in enumerate(values)]
    host = make_host(tmp_path / "a", "odd, name", rows, total=4)
    merge_folders([host], tmp_path / "M")
    expected = [row[:-1] for row in ResultsReader(host / "results.csv.zst")]
    assert merged(tmp_path / "M") == [[*BASE_COLUMNS, "text", "n"], *expected]
    assert expected[0][1] == "odd, name"
    assert expected[1][len(BASE_COLUMNS)] == "two\nlines\r\nand more"


cell_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=6)
)


def expected_merge(path: Path) -> tuple[list[str], list[list[str]]]:
    """A host's rows as merge should write them: `extra` cells moved into their columns."""
    reader = ResultsReader(path)
    rows = list(reader)
    own = list(reader.header[len(BASE_COLUMNS) : -1])
    names = own + [k for row in rows if row[-1] for k in json.loads(row[-1]) if k not in own]
    names = list(dict.fromkeys(names))
    merged = []
    for row in rows:
        cells = dict(zip(own, row[len(BASE_COLUMNS) : -1], strict=True))
        cells.update(json.loads(row[-1]) if row[-1] else {})
        merged.append([*row[: len(BASE_COLUMNS)], *(cells.get(name, "") for name in names)])
    return [*BASE_COLUMNS, *names], merged


@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(
        st.tuples(st.sampled_from(STATUSES), st.dictionaries(st.sampled_from("abc"), cell_values)),
        min_size=1,
        max_size=8,
    ),
    plain=st.booleans(),
)
def test_any_rows_round_trip_through_merge(
    values: list[tuple[str, dict[str, object]]], plain: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        rows = [(j, status, START + j, value) for j, (status, value) in enumerate(values)]
        host = make_host(Path(folder) / "a", "alpha", rows, total=len(rows))
        result = merge_folders([host], Path(folder) / "M", plain=plain)
        header, expected = expected_merge(host / "results.csv.zst")
        assert merged(Path(folder) / "M", result.results.name) == [header, *expected]


def test_plain_writes_results_csv_and_log_txt(tmp_path: Path) -> None:
    host = make_host(
        tmp_path / "a", "alpha", ok_rows([0, 1]), total=2,
        log=["2026-11-20T10:00:00.000000Z alpha INFO one", "  continued"],
    )  # fmt: skip
    merge_folders([host], tmp_path / "M", plain=True)
    assert sorted(p.name for p in (tmp_path / "M").iterdir()) == [
        "log.txt",
        "plan.zst",
        "report.json",
        "results.csv",
        "results.types.json",
    ]
    text = (tmp_path / "M" / "results.csv").read_text()
    assert text.splitlines()[0] == (
        "job_id,machine,status,start_time,duration,error,job_key,input,origin,value"
    )
    assert text.splitlines()[2] == f"1,alpha,ok,1795000001.000000,0.500000,,{key_of(1)},,,10"
    assert (tmp_path / "M" / "log.txt").read_text() == (
        "2026-11-20T10:00:00.000000Z alpha INFO one\n  continued\n"
    )


def test_job_columns_are_united_and_extra_keys_promoted(tmp_path: Path) -> None:
    first = make_host(
        tmp_path / "a", "alpha",
        [(0, "ok", START, {"a": 1, "b": 2}), (1, "ok", START, {"a": 3, "late": "x,y"})],
        declared=("a", "b"),
    )  # fmt: skip
    second = make_host(
        tmp_path / "b", "beta", [(2, "ok", START, {"c": 5, "b": 6}), (3, "ok", START, {"a": 7})]
    )
    assert ResultsReader(first / "results.csv.zst").header[-1] == "extra"
    result = merge_folders([first, second], tmp_path / "M")
    assert result.columns == (*BASE_COLUMNS, "a", "b", "c", "late")
    rows = [row[len(BASE_COLUMNS) :] for row in merged(tmp_path / "M")[1:]]
    assert rows == [
        ["1", "2", "", ""],
        ["3", "", "", "x,y"],
        ["", "6", "5", ""],
        ["7", "", "", ""],
    ]


def test_a_host_column_named_in_another_hosts_extra_fills_that_column(tmp_path: Path) -> None:
    first = make_host(tmp_path / "a", "alpha", [(0, "ok", START, {"a": 1, "b": 2})])
    second = make_host(
        tmp_path / "b", "beta", [(1, "ok", START, {"a": 3, "b": 4})], declared=("a",)
    )
    merge_folders([first, second], tmp_path / "M")
    assert merged(tmp_path / "M")[0] == [*BASE_COLUMNS, "a", "b"]
    assert merged(tmp_path / "M")[2][len(BASE_COLUMNS) :] == ["3", "4"]


def test_the_log_interleaves_hosts_by_timestamp_including_rotated_parts(tmp_path: Path) -> None:
    first = make_host(
        tmp_path / "a", "alpha", ok_rows([0]),
        log=["2026-11-20T10:00:01.000000Z alpha INFO a1", "2026-11-20T10:00:03.000000Z alpha"
             " INFO a3", "  traceback line"],
    )  # fmt: skip
    (first / "log.zst").rename(first / "log.1.zst")
    with FrameWriter(first / "log.zst") as frames:
        frames.write_frame(b"2026-11-20T10:00:05.000000Z alpha INFO a5\n")
    second = make_host(
        tmp_path / "b", "beta", ok_rows([1]),
        log=["2026-11-20T10:00:02.000000Z beta INFO b2", "2026-11-20T10:00:04.000000Z beta b4"],
    )  # fmt: skip
    third = make_host(tmp_path / "c", "gamma", ok_rows([2]))  # no log at all
    merge_folders([first, second, third], tmp_path / "M", plain=True)
    assert (tmp_path / "M" / "log.txt").read_text().splitlines() == [
        "2026-11-20T10:00:01.000000Z alpha INFO a1",
        "2026-11-20T10:00:02.000000Z beta INFO b2",
        "2026-11-20T10:00:03.000000Z alpha INFO a3",
        "  traceback line",
        "2026-11-20T10:00:04.000000Z beta b4",
        "2026-11-20T10:00:05.000000Z alpha INFO a5",
    ]


def test_folders_of_another_splitter_ini_are_refused_with_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = make_host(tmp_path / "a", "alpha", ok_rows([0]))
    second = make_host(tmp_path / "b", "beta", ok_rows([1]), plan=bytes(32), config=bytes(32))
    assert cli(["merge", str(first), str(second), "--out", str(tmp_path / "M")]) == 3
    assert capsys.readouterr().err == (
        f"splitter: error: {second} ran with another splitter.ini than {first} (config digest"
        " 0000 0000 0000 0000, not 2021 2223 2425 2627), so their jobs' seeds differ; merge"
        " only the folders of one campaign's splitter.ini\n"
    )
    assert not (tmp_path / "M").exists()


def test_folders_of_an_earlier_plan_merge_by_job_key_against_the_newest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The earlier plan's pool was range(6), the newest one's is range(4): job 5 left it.
    earlier = make_host(tmp_path / "a", "alpha", ok_rows([0, 5]))
    newest = make_host(
        tmp_path / "b", "beta", ok_rows([1]), total=4, plan=bytes(32),
        plan_started="2026-11-21T10:00:00Z",
    )  # fmt: skip
    out = tmp_path / "M"
    assert cli(["merge", str(earlier), str(newest), "--out", str(out), "--partial"]) == 0
    printed, err = capsys.readouterr()
    assert printed == (
        "merged 2 folders (alpha, beta): 4 expected, 2 ok, 0 failed, 2 missing (2, 3),"
        f" 1 rows of jobs no longer in the pool left out; written to {out}\n"
    )
    assert err == (
        f"warning: {earlier} ran an earlier plan (0001 0203 0405 0607); its rows were matched"
        f" by job key to plan 0000 0000 0000 0000 (from {newest}; --plan DIR chooses another)\n"
    )
    data = report(out)
    assert (data["digest"], data["pool_digest"]) == (bytes(32).hex(), pool_digest(4).hex())
    assert data["no_longer_in_pool"] == 1
    assert [(row[0], row[1], row[6]) for row in merged(out)[1:]] == [
        ("0", "alpha", key_of(0)),
        ("1", "beta", key_of(1)),
    ]


def _edit_manifest(folder: Path, **changes: object) -> Path:
    path = folder / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))
    return path


def test_folders_of_one_plan_digest_with_another_total_are_refused_with_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = make_host(tmp_path / "a", "alpha", ok_rows([0, 1, 2]))
    second = make_host(tmp_path / "b", "beta", ok_rows([3, 4, 5]))
    edited = _edit_manifest(second, total=999_424)
    assert cli(["merge", str(first), str(second), "--out", str(tmp_path / "M")]) == 3
    assert capsys.readouterr().err == (
        f"splitter: error: {edited} has total 999424, but {first / 'manifest.json'} has 6 with"
        " the same plan digest: a manifest was edited; restore the manifest.json that `run`"
        " wrote there\n"
    )
    assert not (tmp_path / "M").exists()


@pytest.mark.parametrize("field", ["pool_digest", "campaign_seed"])
def test_folders_of_one_plan_digest_with_another_pool_or_seed_are_refused(
    tmp_path: Path, field: str
) -> None:
    first = make_host(tmp_path / "a", "alpha", ok_rows([0, 1, 2]))
    second = make_host(tmp_path / "b", "beta", ok_rows([3, 4, 5]))
    _edit_manifest(second, **{field: "ff" * 32})
    with pytest.raises(VerificationError, match=f"has {field} {'ff' * 32}, but"):
        merge_folders([first, second], tmp_path / "M")


@pytest.mark.parametrize(
    "key", ["digest", "plan_digest", "campaign_seed", "config_digest", "pool_digest"]
)
@pytest.mark.parametrize("value", ["0001", "00" * 33, "AB" * 32])
def test_a_digest_that_is_not_64_lowercase_hex_digits_is_refused(
    tmp_path: Path, key: str, value: str
) -> None:
    host = make_host(tmp_path / "a", "alpha", ok_rows([0]))
    edited = _edit_manifest(host, **{key: value})
    with pytest.raises(CorruptFileError) as refused:
        merge_folders([host], tmp_path / "M")
    assert str(refused.value) == (
        f"{edited} has no valid {key!r}; restore the manifest.json that `run` wrote there,"
        " or rerun `run` on that machine to rewrite it"
    )


def test_a_share_larger_than_the_total_is_refused(tmp_path: Path) -> None:
    host = make_host(tmp_path / "a", "alpha", ok_rows([0]))
    _edit_manifest(host, share=7)
    with pytest.raises(VerificationError, match="has a share of 7 jobs, more than its total 6"):
        merge_folders([host], tmp_path / "M")


def test_a_rescue_folder_with_its_own_digest_merges_with_the_originals(tmp_path: Path) -> None:
    first = make_host(tmp_path / "a", "alpha", ok_rows([0, 1]), total=3)
    rescue = make_host(tmp_path / "r", "beta", ok_rows([2]), total=3, digest=bytes(32))
    result = merge_folders([first, rescue], tmp_path / "M")
    assert result.report["ok"] == 3
    assert result.report["machines"][1]["digest"] == bytes(32).hex()


def test_a_cut_off_results_tail_merges_what_decoded_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = make_host(tmp_path / "a", "alpha", ok_rows([0, 1, 2]), total=3)
    results = host / "results.csv.zst"
    results.write_bytes(results.read_bytes()[:-5])
    assert cli(["merge", str(host), "--out", str(tmp_path / "M"), "--partial"]) == 0
    out, err = capsys.readouterr()
    frames = FrameReader(results)
    list(frames)
    assert frames.damage is not None and frames.damage.startswith("cut off mid-frame: ")
    assert err == f"warning: {results}: {frames.damage}; merged what decoded before it\n"
    assert "3 expected, 2 ok, 0 failed, 1 missing (2)" in out
    assert report(tmp_path / "M")["damaged"] == [{"file": str(results), "problem": frames.damage}]
    assert [row[0] for row in merged(tmp_path / "M")[1:]] == ["0", "1"]


def test_a_cut_off_log_is_reported_as_damaged(tmp_path: Path) -> None:
    host = make_host(
        tmp_path / "a", "alpha", ok_rows([0]), total=1,
        log=["2026-11-20T10:00:01.000000Z alpha INFO kept", "2026-11-20T10:00:02.000000Z lost"],
    )  # fmt: skip
    log = host / "log.zst"
    log.write_bytes(log.read_bytes()[:-3])
    result = merge_folders([host], tmp_path / "M", plain=True)
    assert [entry["file"] for entry in result.report["damaged"]] == [str(log)]
    assert result.warnings[0].startswith(f"{log}: cut off mid-frame: ")
    assert (tmp_path / "M" / "log.txt").read_text() == (
        "2026-11-20T10:00:01.000000Z alpha INFO kept\n"
    )


def test_a_garbage_results_file_is_refused_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    host = make_host(tmp_path / "a", "alpha", ok_rows([0]))
    (host / "results.csv.zst").write_bytes(b"job_id,machine\n1,2\n")
    done = run_module(["merge", "a", "--out", "M"], cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "splitter: error: a/results.csv.zst is not a zstd file (it starts with b'job_');"
        " restore the file splitter wrote there, or move this one aside\n"
    )
    assert not (tmp_path / "M").exists()


def test_a_results_file_with_a_wrong_header_is_refused_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = make_host(tmp_path / "a", "alpha", None)
    with FrameWriter(host / "results.csv.zst") as frames:
        frames.write_frame(b"id,value\n1,2\n")
    assert cli(["merge", str(host), "--out", str(tmp_path / "M")]) == 2
    assert capsys.readouterr().err == (
        f"splitter: error: {host / 'results.csv.zst'} has no splitter results header (its first"
        " line is 'id,value'); is it a results.csv.zst written by splitter?\n"
    )


def test_a_row_with_an_unknown_status_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = make_host(tmp_path / "a", "alpha", ok_rows([0]))
    with FrameWriter(host / "results.csv.zst") as frames:
        frames.write_frame(f"1,alpha,bogus,1.0,0.5,,{key_of(1)},,,7,\n".encode())
    assert cli(["merge", str(host), "--out", str(tmp_path / "M")]) == 2
    assert capsys.readouterr().err == (
        f"splitter: error: {host / 'results.csv.zst'} row 2 has status 'bogus', not one of ok,"
        " error, crashed, timeout; the file was edited or damaged, so restore the one splitter"
        " wrote or move it aside\n"
    )


def test_a_folder_without_manifest_is_refused_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a").mkdir()
    assert cli(["merge", str(tmp_path / "a"), "--out", str(tmp_path / "M")]) == 2
    assert capsys.readouterr().err == (
        f"splitter: error: {tmp_path / 'a'} has no manifest.json: is it a folder written by"
        " `run`? (expected OUT/<machine>/ with manifest.json, results.csv.zst, log.zst)\n"
    )


def test_missing_jobs_exit_4_unless_partial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = make_host(tmp_path / "a", "alpha", ok_rows([0, 2, 5]))
    out = tmp_path / "M"
    assert cli(["merge", str(host), "--out", str(out)]) == 4
    printed, err = capsys.readouterr()
    assert printed == (
        f"merged 1 folder (alpha): 6 expected, 3 ok, 0 failed, 3 missing (1, 3, 4);"
        f" written to {out}\n"
    )
    assert err == (
        f"jobs are missing (listed in {out / 'report.json'}): merge again with the folders that"
        f" hold them, run `run --rescue {out}` on the remaining hosts, or pass --partial to"
        " accept a partial merge\n"
    )
    assert report(out)["missing"] == [1, 3, 4]
    assert report(out)["missing_by_machine"] == {"alpha": [1, 3, 4]}
    assert cli(["merge", str(host), "--out", str(out), "--partial", "--force"]) == 0
    assert report(out)["missing"] == [1, 3, 4]


def test_existing_merged_files_are_kept_unless_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = make_host(tmp_path / "a", "alpha", ok_rows(range(6)))
    out = tmp_path / "M"
    out.mkdir()
    (out / "report.json").write_text("mine")
    assert cli(["merge", str(host), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"splitter: error: {out / 'report.json'} already exists; pass --force to overwrite the"
        " merged files in it, or choose another --out\n"
    )
    assert sorted(p.name for p in out.iterdir()) == ["report.json"]
    assert cli(["merge", str(host), "--out", str(out), "--force"]) == 0
    assert report(out)["ok"] == 6
    assert cli(["merge", str(host), "--out", str(out)]) == 0  # the same merge, redone
    assert sorted(p.name for p in out.iterdir()) == [
        "log.zst", "plan.zst", "report.json", "results.csv.zst", "results.types.json",
    ]  # fmt: skip


def test_a_failed_merge_leaves_no_temporary_files(tmp_path: Path) -> None:
    host = make_host(tmp_path / "a", "alpha", ok_rows([0]))
    (host / "log.zst").write_bytes(b"not a log at all")
    with pytest.raises(CorruptFileError, match=r"log\.zst is not a zstd file"):
        merge_folders([host], tmp_path / "M")
    assert list((tmp_path / "M").iterdir()) == []


def test_a_host_without_results_has_zero_rows_and_the_summary_says_so(tmp_path: Path) -> None:
    first = make_host(tmp_path / "a", "alpha", ok_rows([0, 1]), total=2)
    second = make_host(tmp_path / "b", "beta", None, total=2)
    result = merge_folders([first, second], tmp_path / "M")
    assert result.summary == (
        f"merged 2 folders (alpha, beta): 2 expected, 2 ok, 0 failed, 0 missing;"
        f" no results.csv.zst in {second} (0 rows); written to {tmp_path / 'M'}"
    )
    assert result.report["machines"][1]["rows"] == 0


def test_a_running_host_is_merged_with_a_warning_and_its_rows_give_its_wall_time(
    tmp_path: Path,
) -> None:
    rows = [(0, "ok", START, {"v": 1}), (1, "ok", START + 10, {"v": 2})]
    host = make_host(tmp_path / "a", "alpha", rows, total=2, state="running", ended=None)
    result = merge_folders([host], tmp_path / "M")
    assert result.warnings == (
        f"{host} is still running; rows it writes later are not in this merge",
    )
    assert result.report["machines"][0]["wall_seconds"] == 10.5


def reduce_program(fn: Any, initial: Any) -> Program:
    return Program(job=lambda item: item, pool=[0], reduce=fn, initial=initial)


def test_reduce_folds_the_ok_rows_in_job_id_order_and_saves_reduce_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[dict[str, Any]] = []

    def collect(total: float, row: dict[str, Any]) -> float:
        seen.append(row)
        return total + row["value"]

    argv = ["merge", *map(str, three_hosts(tmp_path)), "--out", str(tmp_path / "M")]
    assert cli(argv, reduce_program(collect, 0.5)) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "120.5"
    assert seen == [{"job_id": j, "value": j * 10} for j in (0, 1, 2, 4, 5)]
    assert (tmp_path / "M" / "reduce.json").read_text() == "120.5\n"


def test_reduce_rows_come_back_typed_by_parse_cell(tmp_path: Path) -> None:
    values = {"i": 3, "f": 0.1, "b": False, "s": "x", "n": None, "l": [1, 2]}
    host = make_host(tmp_path / "a", "alpha", [(0, "ok", START, values)], total=1)
    argv = ["merge", str(host), "--out", str(tmp_path / "M")]
    assert cli(argv, reduce_program(lambda acc, row: [*acc, row], [])) == 0
    assert json.loads((tmp_path / "M" / "reduce.json").read_text()) == [
        {"job_id": 0, "i": 3, "f": 0.1, "b": False, "s": "x", "n": None, "l": "[1, 2]"}
    ]


def test_a_failing_reduce_exits_1_naming_the_job_and_keeps_the_merged_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def picky(total: int, row: dict[str, Any]) -> int:
        if row["job_id"] == 4:
            raise ZeroDivisionError("no fours")
        return total + 1

    out = tmp_path / "M"
    argv = ["merge", *map(str, three_hosts(tmp_path)), "--out", str(out)]
    assert cli(argv, reduce_program(picky, 0)) == 1
    assert capsys.readouterr().err.partition(": error: ")[2] == (
        "reduce failed on the row of job 4 (ZeroDivisionError: no fours);"
        f" the merged files in {out} are written, so fix the reduce function and merge again"
        " with --force\n"
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "log.zst", "plan.zst", "report.json", "results.csv.zst", "results.types.json",
    ]  # fmt: skip
    assert cli([*argv, "--force"], reduce_program(lambda total, row: total + 1, 0)) == 0
    assert (out / "reduce.json").read_text() == "5\n"


def _strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_or_infinity_in_a_manifest_is_refused_naming_the_field_not_merged(
    tmp_path: Path, value: float
) -> None:
    host = make_host(tmp_path / "alpha", "alpha", ok_rows(range(6)))
    _edit_manifest(host, perf=2.0, cores=2, busy_seconds=value, jobs_done=6,
                   wall_seconds=1.0, rate_jobs_per_s=1.0)  # fmt: skip
    with pytest.raises(CorruptFileError) as caught:
        merge_folders([host], tmp_path / "out")
    assert str(caught.value) == (
        f"{host / 'manifest.json'} has no valid 'busy_seconds'; restore the manifest.json that"
        " `run` wrote there, or rerun `run` on that machine to rewrite it"
    )
    assert not (tmp_path / "out" / "report.json").exists()


def test_a_start_time_of_nan_gives_no_wall_time_not_nan(tmp_path: Path) -> None:
    host = make_host(tmp_path / "alpha", "alpha", [(0, "ok", float("nan"), {"value": 1})],
                     total=1, ended=None)  # fmt: skip
    merge_folders([host], tmp_path / "out")
    written = _strict_json((tmp_path / "out" / "report.json").read_text())
    assert written["machines"][0]["wall_seconds"] is None
