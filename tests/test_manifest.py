"""Tests for splitter.store.manifest: atomic manifest.json writes and checked reads."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from splitter.errors import ConfigError
from splitter.store.frames import CorruptFileError, FrameWriter
from splitter.store.manifest import MANIFEST_FORMAT, MANIFEST_NAME, read_manifest, write_manifest

DATA = {"machine": "alpha", "format": MANIFEST_FORMAT, "counts": {"ok": 3, "failed": 1}}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.text(), json_values, max_size=5))
def test_manifest_round_trips(data: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        write_manifest(Path(folder) / "manifest.json", data)
        assert read_manifest(Path(folder)) == data


def test_manifest_is_indented_sorted_json_and_leaves_no_temp_files(tmp_path: Path) -> None:
    write_manifest(tmp_path / "manifest.json", {"b": 1, "a": [1, 2]})
    write_manifest(tmp_path / "manifest.json", DATA)
    assert (tmp_path / "manifest.json").read_text(encoding="utf-8") == (
        "{\n"
        '  "counts": {\n'
        '    "failed": 1,\n'
        '    "ok": 3\n'
        "  },\n"
        '  "format": 2,\n'
        '  "machine": "alpha"\n'
        "}\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_a_failed_write_keeps_the_old_manifest_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_manifest(tmp_path / "manifest.json", DATA)

    def no_rename(src: object, dst: object) -> None:
        raise OSError("disk went away")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError, match="disk went away"):
        write_manifest(tmp_path / "manifest.json", {"machine": "beta"})
    monkeypatch.undo()
    assert read_manifest(tmp_path) == DATA
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_a_folder_without_a_manifest_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("results/alpha").mkdir(parents=True)
    with pytest.raises(ConfigError) as caught:
        read_manifest(Path("results/alpha"))
    assert type(caught.value) is ConfigError
    assert str(caught.value) == (
        "results/alpha has no manifest.json: is it a folder written by `run`?"
        " (expected OUT/<machine>/ with manifest.json, results.csv.zst, log.zst)"
    )


def test_invalid_json_is_a_corrupt_file_error(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"machine": ', encoding="utf-8")
    with pytest.raises(CorruptFileError) as caught:
        read_manifest(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'manifest.json'} is not valid JSON (Expecting value: line 1 column 13"
        " (char 12)); restore the manifest.json that `run` wrote there,"
        " or rerun `run` on that machine to rewrite it"
    )


@pytest.mark.parametrize(
    ("text", "kind"),
    [("[1, 2]", "an array"), ("null", "null"), ("3", "a number"), ('"x"', "a string")],
)
def test_json_that_is_not_an_object_is_a_corrupt_file_error(
    tmp_path: Path, text: str, kind: str
) -> None:
    (tmp_path / "manifest.json").write_text(text, encoding="utf-8")
    with pytest.raises(CorruptFileError, match=rf"manifest\.json holds {kind}, not a JSON object"):
        read_manifest(tmp_path)


def test_bytes_that_are_not_utf8_are_a_corrupt_file_error(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_bytes(b'{"a": "\xff"}')
    with pytest.raises(CorruptFileError, match=r"manifest\.json is not UTF-8 text"):
        read_manifest(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_as_manifest_is_refused_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / MANIFEST_NAME)
    message = f"{tmp_path / MANIFEST_NAME} is a FIFO (named pipe), not a regular file"
    with pytest.raises(CorruptFileError, match=re.escape(message)):
        read_manifest(tmp_path)


def test_json_nested_too_deeply_is_a_corrupt_file_error(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_NAME).write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(CorruptFileError) as caught:
        read_manifest(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / MANIFEST_NAME} is JSON nested too deeply to read; restore the manifest.json"
        " that `run` wrote there, or rerun `run` on that machine to rewrite it"
    )


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize(("umask", "mode"), [(0o077, 0o600), (0o022, 0o644)])
def test_the_manifest_honours_the_umask_like_the_other_files(
    tmp_path: Path, umask: int, mode: int
) -> None:
    previous = os.umask(umask)
    try:
        write_manifest(tmp_path / MANIFEST_NAME, DATA)
        with FrameWriter(tmp_path / "results.csv.zst"):
            pass
    finally:
        os.umask(previous)
    assert (tmp_path / MANIFEST_NAME).stat().st_mode & 0o777 == mode
    assert (tmp_path / "results.csv.zst").stat().st_mode & 0o777 == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST_NAME, "results.csv.zst"]
