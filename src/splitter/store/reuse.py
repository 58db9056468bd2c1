"""Read the ok rows of other folders of the same campaign, for ``run --reuse DIR...``.

    host folder (manifest.json, results.csv.zst) or merged folder (report.json, results.csv.zst)
        --campaign_of--> its splitter.ini's digest (the same, or refused)
        --ok_rows--> (job key, {column: cell text}) for each ok row, first found first

A job that moved to another host between two plans need not run again where
the user brings the earlier results along: the runner copies these rows
into its own results, marked with where they came from. Only the config
digest must match: the seeds are splitter.ini's, whatever pool or machines
the other folder ran with.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

from splitter.errors import ConfigError, VerificationError
from splitter.store.frames import CorruptFileError, FrameReader
from splitter.store.hostfolder import read_host
from splitter.store.jsonfile import read_json_object
from splitter.store.manifest import MANIFEST_NAME
from splitter.store.results import EXTRA_COLUMN, RESULTS_NAME
from splitter.store.rowformat import BASE_COLUMNS

__all__ = ["check_reusable", "ok_rows"]

_REPORT = "report.json"
_REPORT_LIMIT = 64 << 20
_KEY = BASE_COLUMNS.index("job_key")


def check_reusable(folder: Path, config_digest: bytes) -> None:
    """Refuse a folder that is not a host or merged folder of this splitter.ini (exit 2 or 3)."""
    if (folder / MANIFEST_NAME).exists():
        recorded = read_host(folder).config_digest.hex()
    elif (folder / _REPORT).exists():
        recorded = _report_config(folder / _REPORT)
    else:
        raise ConfigError(
            f"--reuse {folder} holds neither a {MANIFEST_NAME} nor a {_REPORT}; pass host"
            " folders (OUT/<machine>/) or merged folders of this campaign"
        )
    if recorded != config_digest.hex():
        raise VerificationError(
            f"--reuse {folder} ran with another splitter.ini (its jobs' seeds differ), so its"
            " results do not hold for this campaign; pass folders of this splitter.ini"
        )


def ok_rows(folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """Each ok row of the folder's results as (job key, {column name: cell text}).

    Cells of a host file's ``extra`` column come as columns of their own.
    """
    path = folder / RESULTS_NAME
    if not path.exists():
        return
    header: list[str] | None = None
    for payload in FrameReader(path):
        rows = csv.reader(io.StringIO(_text(path, payload)))
        if header is None:
            header = next(rows, None)
            if header is None or tuple(header[: len(BASE_COLUMNS)]) != BASE_COLUMNS:
                raise CorruptFileError(
                    f"{path} has no splitter results header; is it a results.csv.zst written"
                    " by this version of splitter?"
                )
        for cells in rows:
            if len(cells) != len(header):
                raise CorruptFileError(
                    f"{path} has a row of {len(cells)} cells, not {len(header)}; restore the"
                    " file splitter wrote there"
                )
            if cells[2] == "ok":
                yield cells[_KEY], _named(header, cells)


def _named(header: list[str], cells: list[str]) -> dict[str, str]:
    named = dict(zip(header, cells, strict=True))
    extra = named.pop(EXTRA_COLUMN, "")
    if extra:
        try:
            more = json.loads(extra)
        except ValueError:
            more = {}
        if isinstance(more, dict):
            for name, value in more.items():
                named.setdefault(str(name), value if isinstance(value, str) else json.dumps(value))
    return named


def _text(path: Path, payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptFileError(
            f"{path} holds bytes that are not UTF-8; restore the file splitter wrote there"
        ) from None


def _report_config(path: Path) -> str:
    try:
        report: dict[str, object] | None = read_json_object(path, _REPORT_LIMIT, "merge again")
    except CorruptFileError:
        report = None
    config = report.get("config_digest") if report is not None else None
    if not isinstance(config, str):
        raise ConfigError(
            f"{path} is not a merge report of this version of splitter (no config_digest);"
            " merge again"
        )
    return config
