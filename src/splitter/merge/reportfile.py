"""Read M/report.json back, as `run --rescue` and `report` do: bounded, one sentence if not.

    M/report.json --read_json_object (regular file, at most REPORT_MAX_BYTES)--> dict

What the fields hold is checked by each reader, for the fields it uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from splitter.store.jsonfile import read_json_object

__all__ = ["REPORT_MAX_BYTES", "read_report_json"]

# A report lists every missing and failed job id (about 8 bytes each): 256 MiB
# holds some 30 million; more is not a report merge wrote, and would only fill
# the memory of whoever reads it.
REPORT_MAX_BYTES = 256 << 20


def read_report_json(path: Path, fix: str) -> dict[str, Any]:
    """The JSON object in the report `path`; CorruptFileError "{path} {problem}; {fix}" if not.

    FileNotFoundError passes through, for the caller to say which folder to pass.
    """
    return read_json_object(path, REPORT_MAX_BYTES, fix)
