"""A host's output folder: new, resumed, refused or moved aside; never deleted."""

from __future__ import annotations

from pathlib import Path

import pytest

from splitter.errors import ConfigError, VerificationError
from splitter.store.frames import FrameWriter
from splitter.store.manifest import write_manifest
from splitter.store.outdir import prepare_output

DIGEST = bytes(range(32))
OTHER = bytes(32)


def finished_run(folder: Path, digest: bytes = DIGEST) -> Path:
    folder.mkdir(parents=True)
    write_manifest(folder / "manifest.json", {"digest": digest.hex()})
    with FrameWriter(folder / "results.csv.zst") as frames:
        frames.write_frame(b"job_id\n")
    return folder


def test_a_new_folder_is_created_and_not_a_resume(tmp_path: Path) -> None:
    prepared = prepare_output(tmp_path / "out" / "alpha", DIGEST, fresh=False)
    assert (prepared.resumed, prepared.moved_to, prepared.repairs) == (False, None, ())
    assert prepared.path.is_dir()


def test_the_same_digest_resumes(tmp_path: Path) -> None:
    folder = finished_run(tmp_path / "alpha")
    assert prepare_output(folder, DIGEST, fresh=False).resumed


def test_another_digest_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    folder = finished_run(tmp_path / "alpha")
    before = sorted((p.name, p.read_bytes()) for p in folder.iterdir())
    with pytest.raises(VerificationError, match="holds a run of another plan"):
        prepare_output(folder, OTHER, fresh=False)
    assert sorted((p.name, p.read_bytes()) for p in folder.iterdir()) == before


def test_fresh_moves_the_old_run_aside(tmp_path: Path) -> None:
    folder = finished_run(tmp_path / "alpha")
    prepared = prepare_output(folder, OTHER, fresh=True)
    assert prepared.moved_to is not None
    assert prepared.moved_to.name.startswith("alpha.previous-")
    assert (prepared.moved_to / "results.csv.zst").read_bytes() != b""
    assert list(folder.iterdir()) == []


def test_a_folder_of_foreign_files_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "alpha"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"no manifest\.json, so it was not written by splitter"):
        prepare_output(folder, DIGEST, fresh=False)


def test_a_damaged_tail_is_cut_and_kept_on_resume(tmp_path: Path) -> None:
    folder = finished_run(tmp_path / "alpha")
    whole = (folder / "results.csv.zst").read_bytes()
    with (folder / "results.csv.zst").open("ab") as results:
        results.write(whole[:5])
    prepared = prepare_output(folder, DIGEST, fresh=False)
    assert [repair.cut_bytes for repair in prepared.repairs] == [5]
    assert (folder / "results.csv.zst").read_bytes() == whole
    assert prepared.repairs[0].saved_to.read_bytes() == whole[:5]
