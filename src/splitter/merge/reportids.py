"""The job ids a merge report lists, checked before a rescue plans them.

`report.json` is a file a person can edit; a rescue must plan exactly the
job ids of this campaign it lists, never guess at a string, a float or a
bool (``true`` is 1 to Python) and never index past the pool.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from splitter.errors import ConfigError

__all__ = ["rescue_ids"]


def rescue_ids(report: dict[str, Any], path: Path, total: int, retry_failed: bool) -> list[int]:
    """The ids under ``missing`` (and, with ``retry_failed``, under ``failed_ids``)."""
    ids = _checked(report.get("missing"), "'missing'", path, total)
    if retry_failed:
        failed = report.get("failed_ids", {})
        if not isinstance(failed, dict):
            raise ConfigError(
                f"{path} has 'failed_ids' as {_kind(failed)}, not an object of status: [job ids];"
                " merge again to rewrite the report"
            )
        for status, listed in failed.items():
            ids.extend(_checked(listed, f"'failed_ids' {status!r}", path, total))
    return ids


def _checked(listed: object, where: str, path: Path, total: int) -> list[int]:
    if not isinstance(listed, list):
        raise ConfigError(
            f"{path} has {where} as {_kind(listed)}, not a list of job ids;"
            " merge again to rewrite the report"
        )
    for value in listed:
        if type(value) is not int or not 0 <= value < total:
            raise ConfigError(
                f"{path} lists {value!r} in {where}, which is not a job id of this campaign"
                f" (a whole number from 0 to {total - 1}); merge again to rewrite the report"
            )
    return list(listed)


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return "null" if value is None else names.get(type(value), "a number")
