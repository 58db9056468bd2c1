"""A host's output folder: start it, resume it, or refuse to touch it.

Re-running resumes in place: with the same digest, or with an earlier plan of
the same splitter.ini (another pool or machines.json: the same seeds, so its
results hold; the runner then reuses them by job key). A folder of another
splitter.ini, of splitter 0.1, or not written by splitter is never touched
unless ``--fresh``, which moves it aside to a dated sibling: splitter never
deletes a user's files.
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
from splitter.store.manifest import MANIFEST_FORMAT, read_manifest
from splitter.store.manifest import MANIFEST_NAME as MANIFEST
from splitter.store.results import RESULTS_NAME

__all__ = ["CALIBRATION_NAME", "MOVED_ASIDE", "OutputFolder", "is_moved_aside", "prepare_output"]

CALIBRATION_NAME = "calibration.json"
MOVED_ASIDE = ".previous-"
"""In the name of a folder `--fresh` moved aside: ``<machine>.previous-<time>``."""


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutputFolder:
    """What ``prepare_output`` found and did."""

    path: Path
    resumed: bool
    moved_to: Path | None
    repairs: tuple[TailRepair, ...]
    earlier_plan: str | None = None
    """The digest of the earlier plan the resumed folder held, when it differs from this one."""

    @property
    def results(self) -> Path:
        """The results file of this host."""
        return self.path / RESULTS_NAME


def prepare_output(
    path: Path, digest: bytes, config_digest: bytes, *, fresh: bool
) -> OutputFolder:
    """Make ``path`` ready for a run of ``digest``: new, resumed, or moved aside first.

    A folder of another plan with the same ``config_digest`` resumes too
    (``earlier_plan`` names it); one of another splitter.ini is refused.
    """
    previous = _recorded(path)
    moved_to = None
    if previous is not None or _holds_files(path):
        if fresh:
            moved_to = _move_aside(path)
        elif previous is None:
            raise ConfigError(
                f"{path} already holds files but no {MANIFEST}, so it was not written by "
                "splitter; pass another --out, or --fresh to move it aside"
            )
        else:
            _check_same_campaign(path, previous, config_digest)
    resumed = previous is not None and moved_to is None
    earlier = previous[0] if resumed and previous and previous[0] != digest.hex() else None
    path.mkdir(parents=True, exist_ok=True)
    existing = [p for p in (path / RESULTS_NAME, path / LOG_NAME) if resumed and p.exists()]
    repairs = tuple(r for r in map(repair_tail, existing) if r)
    for repair in repairs:
        log.warning(
            "%s ended in a damaged frame: cut %d bytes back to the last whole frame "
            "(kept in %s); the jobs in it run again",
            repair.path, repair.cut_bytes, repair.saved_to,
        )  # fmt: skip
    return OutputFolder(path, resumed, moved_to, repairs, earlier)


def _recorded(path: Path) -> tuple[str, str, object] | None:
    """The folder's plan digest, config digest and manifest format; None without a manifest."""
    if not (path / MANIFEST).is_file():
        return None
    manifest = read_manifest(path)
    digest, config = manifest.get("digest"), manifest.get("config_digest")
    if not isinstance(digest, str) or not isinstance(config, str):
        raise ConfigError(
            f"{path / MANIFEST} names no digest; pass --fresh to move the folder aside, "
            "or another --out"
        )
    return digest, config, manifest.get("format")


def _check_same_campaign(path: Path, previous: tuple[str, str, object], config: bytes) -> None:
    _, recorded_config, version = previous
    if version != MANIFEST_FORMAT:
        raise VerificationError(
            f"{path} holds a run of splitter 0.1 (manifest format {version}), whose job seeds"
            " and order differ from this version's; finish it with splitter 0.1, or pass"
            " --fresh to move it aside and start anew"
        )
    if recorded_config != config.hex():
        raise VerificationError(
            f"{path} holds a run of another splitter.ini (config digest"
            f" {_grouped(recorded_config)}, this one's is {group_digest(config)}), so its jobs'"
            " seeds differ and none of its results hold here; run with the splitter.ini it ran"
            " with, pass --fresh to move it aside and start anew, or another --out"
        )


def _holds_files(path: Path) -> bool:
    # The run's own lock file (taken before this check) is not a user's file, and
    # `calibrate` may have left its calibration.json before the first run.
    return path.is_dir() and any(
        p.name not in (LOCK_NAME, CALIBRATION_NAME) for p in path.iterdir()
    )


def _move_aside(path: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}{MOVED_ASIDE}{stamp}")
    counter = 1
    while target.exists():
        counter += 1
        target = path.with_name(f"{path.name}{MOVED_ASIDE}{stamp}-{counter}")
    os.rename(path, target)
    log.warning("moved the earlier run in %s aside to %s", path, target)
    return target


def is_moved_aside(folder: Path) -> bool:
    """Whether ``folder`` is an earlier run that ``--fresh`` moved aside."""
    return MOVED_ASIDE in folder.name


def _grouped(hex_digest: str) -> str:
    return group_digest(bytes.fromhex(hex_digest)) if len(hex_digest) >= 16 else hex_digest
