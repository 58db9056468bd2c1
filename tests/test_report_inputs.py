"""A hand-edited or replaced report.json: one sentence naming the field, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from splitter.errors import ConfigError, UsageError
from splitter.report.build import write_report
from test_report_build import REPORT, ROW, merged_folder

COUNT = "not a count (a whole number, 0 or more)"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"expected": "12"}, f"'expected' is a string, {COUNT}"),
        ({"expected": True}, f"'expected' is true, {COUNT}"),
        ({"expected": 10**400}, f"'expected' is a number of many digits, {COUNT}"),
        ({"ok": -3}, f"'ok' is -3, {COUNT}"),
        ({"ok": 2.5}, f"'ok' is 2.5, {COUNT}"),
        ({"failed": [1]}, "'failed' is a list, not an object"),
        ({"failed": {"error": -1}}, f"'failed' 'error' is -1, {COUNT}"),
        ({"missing": "0,1"}, "'missing' is a string, not a list of job ids"),
        ({"missing": [0, -1]}, f"'missing'[1] is -1, {COUNT}"),
        ({"missing": [0, None]}, f"'missing'[1] is null, {COUNT}"),
        ({"missing": ["<img src=x onerror=alert(1)>"]}, f"'missing'[0] is a string, {COUNT}"),
        ({"duplicates": -1}, f"'duplicates' is -1, {COUNT}"),
        ({"machines": {"machine": "a"}}, "'machines' is an object, not a list"),
        ({"machines": ["alpha"]}, "'machines'[0] is a string, not an object"),
        ({"machines": [{"machine": 3}]}, "'machines'[0] 'machine' is 3, not a string"),
        ({"machines": [{"machine": ""}]},
         "'machines'[0] 'machine' is a string, not a machine's name"),
        ({"machines": [{"machine": "a", "rows": -2}]}, f"'machines'[0] 'rows' is -2, {COUNT}"),
        ({"machines": [{"machine": "a", "failed": {"error": "1"}}]},
         f"'machines'[0] 'failed' 'error' is a string, {COUNT}"),
        ({"machines": [{"machine": "a", "wall_seconds": -1.0}]},
         "'machines'[0] 'wall_seconds' is -1, not a number of seconds (0 or more)"),
        ({"machines": [{"machine": "a", "state": 1}]}, "'machines'[0] 'state' is 1, not a string"),
        ({"inputs": [1]}, "'inputs'[0] is 1, not a string"),
        ({"machines_seen": "alpha"}, "'machines_seen' is a string, not a list"),
        ({"damaged": [{"file": 1, "problem": "x"}]}, "'damaged'[0] 'file' is 1, not a string"),
        ({"capacity": []}, "'capacity' is a list, not an object"),
        ({"capacity": {"alpha": {"declared": "8"}}},
         "'capacity' 'alpha' 'declared' is a string, not a number"),
        ({"capacity": {"alpha": {"observed_jobs_per_s": -1}}},
         "'capacity' 'alpha' 'observed_jobs_per_s' is -1, not a rate (0 or more)"),
        ({"digest": 5}, "'digest' is 5, not a string"),
        ({"missing_by_machine": {"gamma": "0"}},
         "'missing_by_machine' 'gamma' is a string, not a list of job ids"),
        ({"missing_by_machine": {"gamma": [-4]}},
         f"'missing_by_machine' 'gamma'[0] is -4, {COUNT}"),
    ],
)  # fmt: skip
def test_a_field_of_the_wrong_type_is_one_sentence_naming_it(
    tmp_path: Path, changes: dict[str, object], problem: str
) -> None:
    merged = merged_folder(tmp_path / "merged", ROW, {**REPORT, **changes})
    with pytest.raises(ConfigError) as caught:
        write_report(merged)
    assert str(caught.value) == (
        f"in {merged / 'report.json'}, {problem}; it was edited or damaged: merge again with"
        " --force to rewrite it"
    )
    assert not (merged / "report.html").exists()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_wall_time_of_nan_or_infinity_is_refused(tmp_path: Path, constant: str) -> None:
    merged = merged_folder(tmp_path / "merged", ROW)
    text = json.dumps({**REPORT, "machines": [{"machine": "a", "wall_seconds": 1.0}]})
    (merged / "report.json").write_text(text.replace("1.0", constant))
    with pytest.raises(ConfigError, match=r"'machines'\[0\] 'wall_seconds' is NaN or Infinity"):
        write_report(merged)


def test_deep_nesting_is_one_sentence(tmp_path: Path) -> None:
    merged = merged_folder(tmp_path / "merged", ROW)
    (merged / "report.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ConfigError) as caught:
        write_report(merged)
    assert str(caught.value) == (
        f"{merged / 'report.json'} is JSON nested too deeply to read; merge again with --force"
        " to rewrite it"
    )


def test_an_int_of_more_digits_than_python_reads_is_one_sentence(tmp_path: Path) -> None:
    merged = merged_folder(tmp_path / "merged", ROW)
    (merged / "report.json").write_text('{"expected": ' + "9" * 5000 + "}")
    with pytest.raises(ConfigError, match=r"is not valid JSON \(Exceeds the limit"):
        write_report(merged)


def test_a_report_json_larger_than_any_merge_writes_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("splitter.merge.reportfile.REPORT_MAX_BYTES", 1 << 20)
    merged = merged_folder(tmp_path / "merged", ROW)
    with (merged / "report.json").open("r+b") as f:
        f.truncate(8 << 30)  # sparse: 8 GiB of which the tail is zeros
    with pytest.raises(ConfigError) as caught:
        write_report(merged)
    assert str(caught.value) == (
        f"{merged / 'report.json'} is larger than 1 MiB, more than splitter ever writes there;"
        " merge again with --force to rewrite it"
    )


def test_a_hostile_manifest_field_is_a_warning_and_the_rest_is_drawn(tmp_path: Path) -> None:
    host = tmp_path / "alpha"
    host.mkdir()
    manifest = {"machine": "alpha", "paused_intervals": [[5.0, 1.0, "owner"]]}
    (host / "manifest.json").write_text(json.dumps(manifest))
    merged = merged_folder(tmp_path / "merged", ROW, {**REPORT, "inputs": [str(host)]})
    result = write_report(merged)
    assert result.warnings == (
        f"left out {host}: in {host / 'manifest.json'}, 'paused_intervals'[0][1] is 1, not an"
        " end at or after its start",
    )


def test_an_out_that_is_not_a_report_is_refused(tmp_path: Path) -> None:
    merged = merged_folder(tmp_path / "merged", ROW)
    results = merged / "results.csv.zst"
    before = results.read_bytes()
    with pytest.raises(UsageError) as caught:
        write_report(merged, results)
    assert str(caught.value) == (
        f"{results} exists and is not a report that `splitter report` wrote; pass an --out"
        " that is new or an earlier report, or move that file aside"
    )
    assert results.read_bytes() == before


def test_an_earlier_report_is_replaced(tmp_path: Path) -> None:
    merged = merged_folder(tmp_path / "merged", ROW)
    first = write_report(merged, tmp_path / "r.html").path.read_text(encoding="utf-8")
    (tmp_path / "r.html").write_text(first.replace("Plan digest", "OLD"), encoding="utf-8")
    again = write_report(merged, tmp_path / "r.html").path.read_text(encoding="utf-8")
    assert "Plan digest" in again and "OLD" not in again


def test_an_out_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    merged = merged_folder(tmp_path / "merged", ROW)
    with pytest.raises(UsageError) as caught:
        write_report(merged, tmp_path)
    assert (
        str(caught.value) == f"{tmp_path} is a folder; pass --out a file name such as report.html"
    )
