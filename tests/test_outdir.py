"""A host's output folder: new, resumed, refused or moved aside; never deleted."""

from __future__ import annotations

from pathlib import Path

import pytest

from splitter.errors import ConfigError, VerificationError
from splitter.store.frames import FrameWriter
from splitter.store.manifest import MANIFEST_FORMAT, write_manifest
from splitter.store.outdir import prepare_output

DIGEST = bytes(range(32))
OTHER = bytes(32)
CONFIG = bytes(range(32, 64))


def finished_run(
    folder: Path, digest: bytes = DIGEST, config: bytes = CONFIG, version: int = MANIFEST_FORMAT
) -> Path:
    folder.mkdir(parents=True)
    manifest = {"format": version, "digest": digest.hex(), "config_digest": config.hex()}
    write_manifest(folder / "manifest.json", manifest)
    with FrameWriter(folder / "results.csv.zst") as frames:
        frames.write_frame(b"job_id\n")
    return folder


def test_a_new_folder_is_created_and_not_a_resume(tmp_path: Path) -> None:
    prepared = prepare_output(tmp_path / "out" / "alpha", DIGEST, CONFIG, fresh=False)
    assert (prepared.resumed, prepared.moved_to, prepared.repairs) == (False, None, ())
    assert prepared.earlier_plan is None
    assert prepared.path.is_dir()


def test_the_same_digest_resumes(tmp_path: Path) -> None:
    folder = finished_run(tmp_path / "alpha")
    prepared = prepare_output(folder, DIGEST, CONFIG, fresh=False)
    assert (prepared.resumed, prepared.earlier_plan) == (True, None)


def test_another_plan_of_the_same_splitter_ini_resumes_and_names_the_earlier_plan(
    tmp_path: Path,
) -> None:
    folder = finished_run(tmp_path / "alpha")
    before = sorted((p.name, p.read_bytes()) for p in folder.iterdir())
    prepared = prepare_output(folder, OTHER, CONFIG, fresh=False)
    assert (prepared.resumed, prepared.moved_to, prepared.earlier_plan) == (
        True, None, DIGEST.hex(),
    )  # fmt: skip
    assert sorted((p.name, p.read_bytes()) for p in folder.iterdir()) == before


def test_another_splitter_ini_is_refused_naming_it_and_nothing_changes(tmp_path: Path) -> None:
    folder = finished_run(tmp_path / "alpha", config=bytes(32))
    before = sorted((p.name, p.read_bytes()) for p in folder.iterdir())
    with pytest.raises(VerificationError) as refused:
        prepare_output(folder, DIGEST, CONFIG, fresh=False)
    assert str(refused.value) == (
        f"{folder} holds a run of another splitter.ini (config digest 0000 0000 0000 0000, this"
        " one's is 2021 2223 2425 2627), so its jobs' seeds differ and none of its results hold"
        " here; run with the splitter.ini it ran with, pass --fresh to move it aside and start"
        " anew, or another --out"
    )
    assert sorted((p.name, p.read_bytes()) for p in folder.iterdir()) == before


def test_a_folder_of_splitter_0_1_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    folder = finished_run(tmp_path / "alpha", version=1)
    before = sorted((p.name, p.read_bytes()) for p in folder.iterdir())
    with pytest.raises(VerificationError) as refused:
        prepare_output(folder, DIGEST, CONFIG, fresh=False)
    assert str(refused.value) == (
        f"{folder} holds a run of splitter 0.1 (manifest format 1), whose job seeds and order"
        " differ from this version's; finish it with splitter 0.1, or pass --fresh to move it"
        " aside and start anew"
    )
    assert sorted((p.name, p.read_bytes()) for p in folder.iterdir()) == before


def test_a_manifest_without_a_config_digest_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "alpha"
    folder.mkdir()
    write_manifest(folder / "manifest.json", {"format": MANIFEST_FORMAT, "digest": DIGEST.hex()})
    with pytest.raises(ConfigError) as refused:
        prepare_output(folder, DIGEST, CONFIG, fresh=False)
    assert str(refused.value) == (
        f"{folder / 'manifest.json'} names no digest; pass --fresh to move the folder aside,"
        " or another --out"
    )


def test_fresh_moves_the_old_run_aside(tmp_path: Path) -> None:
    folder = finished_run(tmp_path / "alpha", config=bytes(32))
    prepared = prepare_output(folder, OTHER, CONFIG, fresh=True)
    assert prepared.moved_to is not None
    assert prepared.moved_to.name.startswith("alpha.previous-")
    assert (prepared.moved_to / "results.csv.zst").read_bytes() != b""
    assert list(folder.iterdir()) == []


def test_a_folder_of_foreign_files_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "alpha"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"no manifest\.json, so it was not written by splitter"):
        prepare_output(folder, DIGEST, CONFIG, fresh=False)


def test_a_damaged_tail_is_cut_and_kept_on_resume(tmp_path: Path) -> None:
    folder = finished_run(tmp_path / "alpha")
    whole = (folder / "results.csv.zst").read_bytes()
    with (folder / "results.csv.zst").open("ab") as results:
        results.write(whole[:5])
    prepared = prepare_output(folder, DIGEST, CONFIG, fresh=False)
    assert [repair.cut_bytes for repair in prepared.repairs] == [5]
    assert (folder / "results.csv.zst").read_bytes() == whole
    assert prepared.repairs[0].saved_to.read_bytes() == whole[:5]
