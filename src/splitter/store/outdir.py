"""A host's output folder: start it, resume it, or refuse to touch it.

Re-running with the same digest resumes in place. A folder from another plan
is never touched unless ``--fresh``, which moves it aside to a dated sibling:
splitter never deletes a user's files.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from splitter.campaign.digest import group_digest
from splitter.errors import ConfigError, VerificationError
from splitter.store.frames import TailRepair, repair_tail
from splitter.store.lock import LOCK_NAME
from splitter.store.logfile import LOG_NAME
from splitter.store.manifest import MANIFEST_NAME as MANIFEST
from splitter.store.manifest import read_manifest
from splitter.store.results import RESULTS_NAME

__all__ = ["CALIBRATION_NAME", "OutputFolder", "prepare_output"]

CALIBRATION_NAME = "calibration.json"


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutputFolder:
    """What ``prepare_output`` found and did."""

    path: Path
    resumed: bool
    moved_to: Path | None
    repairs: tuple[TailRepair, ...]

    @property
    def results(self) -> Path:
        """The results file of this host."""
        return self.path / RESULTS_NAME


def prepare_output(path: Path, digest: bytes, *, fresh: bool) -> OutputFolder:
    """Make ``path`` ready for a run of ``digest``: new, resumed, or moved aside first."""
    previous = _recorded_digest(path)
    moved_to = None
    if previous is not None or _holds_files(path):
        if fresh:
            moved_to = _move_aside(path)
        elif previous is None:
            raise ConfigError(
                f"{path} already holds files but no {MANIFEST}, so it was not written by "
                "splitter; pass another --out, or --fresh to move it aside"
            )
        elif previous != digest.hex():
            raise VerificationError(
                f"{path} holds a run of another plan (digest {_grouped(previous)}, this plan "
                f"is {group_digest(digest)}); pass --fresh to move it aside and start anew, "
                "or another --out"
            )
    resumed = previous is not None and moved_to is None
    path.mkdir(parents=True, exist_ok=True)
    existing = [p for p in (path / RESULTS_NAME, path / LOG_NAME) if resumed and p.exists()]
    repairs = tuple(r for r in map(repair_tail, existing) if r)
    for repair in repairs:
        log.warning(
            "%s ended in a damaged frame: cut %d bytes back to the last whole frame "
            "(kept in %s); the jobs in it run again",
            repair.path, repair.cut_bytes, repair.saved_to,
        )  # fmt: skip
    return OutputFolder(path, resumed, moved_to, repairs)


def _recorded_digest(path: Path) -> str | None:
    if not (path / MANIFEST).is_file():
        return None
    digest = read_manifest(path).get("digest")
    if not isinstance(digest, str):
        raise ConfigError(
            f"{path / MANIFEST} names no digest; pass --fresh to move the folder aside, "
            "or another --out"
        )
    return digest


def _holds_files(path: Path) -> bool:
    # The run's own lock file (taken before this check) is not a user's file, and
    # `calibrate` may have left its calibration.json before the first run.
    return path.is_dir() and any(
        p.name not in (LOCK_NAME, CALIBRATION_NAME) for p in path.iterdir()
    )


def _move_aside(path: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.previous-{stamp}")
    counter = 1
    while target.exists():
        counter += 1
        target = path.with_name(f"{path.name}.previous-{stamp}-{counter}")
    os.rename(path, target)
    log.warning("moved the earlier run in %s aside to %s", path, target)
    return target


def _grouped(hex_digest: str) -> str:
    return group_digest(bytes.fromhex(hex_digest)) if len(hex_digest) >= 16 else hex_digest
