"""Write and read OUT/<machine>/manifest.json, the summary of one host's run.

The runner builds the content (digests, machine, share, versions, counts, with
`MANIFEST_FORMAT`); this module only writes it atomically and reads it back.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from splitter.errors import ConfigError
from splitter.store.jsonfile import read_json_object

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_MAX_BYTES",
    "MANIFEST_NAME",
    "campaign_history",
    "read_manifest",
    "write_manifest",
    "write_text_atomically",
]

MANIFEST_FORMAT = 2
MANIFEST_NAME = "manifest.json"
# Far above any manifest a run writes (a few KiB, and ~150 bytes per run of its history).
MANIFEST_MAX_BYTES = 16 << 20
_FIX = (
    "restore the manifest.json that `run` wrote there, or rerun `run` on that machine to"
    " rewrite it"
)


def campaign_history(
    previous: Mapping[str, object], plan_digest: str, pool_digest: str, now: str
) -> dict[str, object]:
    """The fields a folder carries from run to run: when its plan began, which pools it holds.

    ``plan_started`` is when this folder first ran this plan (merge takes the
    plan whose first run began last as the newest); ``pools_seen`` lists the
    pool digests of every plan whose rows the results file holds, so merge
    knows whether its job ids are all of one pool.
    """
    same_plan = previous.get("plan_digest") == plan_digest
    started = previous.get("plan_started")
    seen = previous.get("pools_seen")
    pools = [p for p in seen if isinstance(p, str)] if isinstance(seen, list) else []
    return {
        "plan_started": started if same_plan and isinstance(started, str) else now,
        "pools_seen": [*pools, pool_digest] if pool_digest not in pools else pools,
    }


def write_manifest(path: Path, data: Mapping[str, object]) -> None:
    """Write `data` as JSON to `path` so that readers see the old or the new file, never half."""
    write_text_atomically(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_text_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` so that readers see the old or the new file, never half.

    The text goes to a temporary file in the same folder, is fsync'd, then
    replaces `path` in one rename. An existing file keeps its permissions (a
    0444 file stays read-only); a new one is 0644 less the umask.
    """
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    mode = _mode_of(path)
    # 0644 less the umask, like the folder's other files (mkstemp would make it 0600).
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise
    _sync_folder(path.parent)


def _mode_of(path: Path) -> int | None:
    """The permission bits of ``path``; None when there is no such file yet."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable; only POSIX can open and fsync a folder."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_manifest(folder: Path) -> dict[str, object]:
    """The manifest of a host's output folder, as a dict (at most `MANIFEST_MAX_BYTES`)."""
    path = folder / MANIFEST_NAME
    try:
        return read_json_object(path, MANIFEST_MAX_BYTES, _FIX)
    except FileNotFoundError:
        raise ConfigError(
            f"{folder} has no {MANIFEST_NAME}: is it a folder written by `run`?"
            " (expected OUT/<machine>/ with manifest.json, results.csv.zst, log.zst)"
        ) from None
