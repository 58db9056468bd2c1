"""calibrate --update's rewrite of machines.json: one entry set, the rest kept in order."""

from __future__ import annotations

import errno
import json
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import splitter.run.calibrate as calibrate_module
from splitter.campaign.machinesfile import with_entry
from splitter.errors import ConfigError
from splitter.run.calibrate import check_updatable, update_machine_entry

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
    # No temporary file is left; the lock file of concurrent updates stays.
    assert sorted(p.name for p in tmp_path.iterdir()) == [".machines.json.lock", "machines.json"]


def test_a_symlinked_machines_json_has_its_target_updated_and_stays_a_link(
    tmp_path: Path,
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "machines.json").write_text(TEXT)
    link = tmp_path / "machines.json"
    link.symlink_to(shared / "machines.json")
    update_machine_entry(link, "alpha", 4.0, 2)
    assert link.is_symlink()
    assert json.loads((shared / "machines.json").read_text())["alpha"] == [4.0, 2]


def test_the_file_keeps_its_permissions(tmp_path: Path) -> None:
    path = tmp_path / "machines.json"
    path.write_text(TEXT)
    path.chmod(0o444)
    update_machine_entry(path, "alpha", 4.0, 2)
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert json.loads(path.read_text())["alpha"] == [4.0, 2]


def test_concurrent_updates_of_one_file_keep_every_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "machines.json"
    path.write_text(TEXT)
    real = calibrate_module.with_entry

    def slow(*args: Any) -> str:
        time.sleep(0.05)  # between reading the file and replacing it: where one got lost
        return real(*args)

    monkeypatch.setattr(calibrate_module, "with_entry", slow)
    names = [f"host-{i}" for i in range(6)]
    threads = [
        threading.Thread(target=update_machine_entry, args=(path, name, 1.0, 1)) for name in names
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = list(json.loads(path.read_text()))
    assert entries[:3] == ["alpha", "beta", "gamma"]
    assert sorted(entries[3:]) == names


def test_a_read_only_configs_folder_says_so_and_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "machines.json"
    path.write_text(TEXT)
    real = os.open

    def read_only(file: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT and Path(file).parent == tmp_path:
            raise OSError(errno.EROFS, "Read-only file system", str(file))
        return real(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    for attempt in (check_updatable, lambda p: update_machine_entry(p, "alpha", 4.0, 2)):
        with pytest.raises(ConfigError) as caught:
            attempt(path)
        assert str(caught.value) == (
            f"cannot update {path}: its folder {tmp_path} is read-only here (Read-only file"
            " system); add the machines.json entry this prints by hand, or run calibrate"
            " --update where that folder is writable"
        )
    assert path.read_text() == TEXT


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
