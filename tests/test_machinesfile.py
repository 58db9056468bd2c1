"""calibrate --update's rewrite of machines.json: one entry set, the rest kept in order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from splitter.campaign.machinesfile import with_entry
from splitter.errors import ConfigError
from splitter.run.calibrate import update_machine_entry

TEXT = '{"alpha": [1.0, 2], "beta": [1.5, 4], "gamma": [0.5, 8]}'


def test_an_existing_entry_changes_in_its_place() -> None:
    new = with_entry(TEXT, "m.json", "beta", 3.25, 6)
    assert new == '{\n  "alpha": [1.0, 2],\n  "beta": [3.25, 6],\n  "gamma": [0.5, 8]\n}\n'


def test_a_new_machine_goes_last() -> None:
    new = with_entry(TEXT, "m.json", "delta", 2.0, 1)
    assert list(json.loads(new)) == ["alpha", "beta", "gamma", "delta"]


def test_an_invalid_name_is_refused_naming_the_file() -> None:
    with pytest.raises(ConfigError, match=r"^m.json: machine 'a/b' has a name with '/'"):
        with_entry(TEXT, "m.json", "a/b", 1.0, 1)


def test_the_file_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "machines.json"
    path.write_text(TEXT)
    update_machine_entry(path, "alpha", 4.0, 2)
    assert json.loads(path.read_text())["alpha"] == [4.0, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["machines.json"]


def test_a_long_form_entry_keeps_the_fields_calibrate_does_not_measure() -> None:
    text = (
        '{"alpha": [1.0, 2], "beta": {"perf": 1.5, "gpus": 2, "cores": 4, "mem": "64G", '
        '"tags": ["cuda"], "licences": 3}}'
    )
    new = with_entry(text, "m.json", "beta", 2.75, 6)
    assert new == (
        '{\n  "alpha": [1.0, 2],\n  "beta": {"perf": 2.75, "gpus": 2, "cores": 6, '
        '"mem": "64G", "tags": ["cuda"], "licences": 3}\n}\n'
    )
