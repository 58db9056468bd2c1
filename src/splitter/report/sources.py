"""What the report reads besides the rows, each read bounded and checked, and where it may write.

    M/report.json --read_report_json, parse_report--> MergeReport (or one sentence, exit 2)
    each input folder's manifest.json --read_manifest, host_record--> HostRecord (or a warning)
    a rescue folder's `rescue` report.json (the partial merge) --> MergeReport (or a warning)
    --out FILE: replaced only if it is absent or a report this module's marker names

The input folders are read where report.json names them (relative to the
working directory, as merge was given them); folders that have moved are
left out in silence: report.json alone suffices.
"""

from __future__ import annotations

from pathlib import Path

from splitter.errors import ConfigError, SplitterError, UsageError
from splitter.merge.reportfile import read_report_json
from splitter.merge.rules import REPORT_NAME
from splitter.report.checks import FieldError
from splitter.report.hosts import HostRecord, host_record
from splitter.report.schema import MergeReport, parse_report
from splitter.store.frames import open_regular
from splitter.store.manifest import MANIFEST_NAME, read_manifest

__all__ = ["MARKER", "check_target", "host_records", "load_report", "partial_reports"]

MARKER = '<meta name="generator" content="splitter report">'
"""In the head of every report.html: what `check_target` recognises as ours to replace."""
_OLD_MARKER = b"<title>splitter report: "  # the head of a report from before the marker
_HEAD_BYTES = 4096
_FIX = "merge again with --force to rewrite it"


def load_report(merged: Path) -> MergeReport:
    """M/report.json, read and checked."""
    path = merged / REPORT_NAME
    try:
        data = read_report_json(path, _FIX)
    except FileNotFoundError:
        raise ConfigError(
            f"{merged} has no {REPORT_NAME}; pass the folder that `merge DIR... --out M`"
            " wrote (M), or merge first"
        ) from None
    return parse_report(data, path)


def host_records(report: MergeReport) -> tuple[dict[str, HostRecord], list[str]]:
    """The manifests of the merge's input folders still at hand, by folder; and warnings."""
    found: dict[str, HostRecord] = {}
    warnings = []
    for folder in report.inputs:
        path = Path(folder)
        if not path.is_dir():
            continue  # merged elsewhere, or the folders have moved: report.json suffices
        try:
            found[folder] = host_record(read_manifest(path), folder)
        except SplitterError as exc:
            warnings.append(f"left out {path}: {exc}")
        except FieldError as exc:
            warnings.append(f"left out {path}: in {path / MANIFEST_NAME}, {exc.sentence}")
    return found, warnings


def partial_reports(
    records: dict[str, HostRecord],
) -> tuple[dict[str, MergeReport], list[str]]:
    """The partial merges the rescue folders ran from, where still at hand; and warnings."""
    found: dict[str, MergeReport] = {}
    warnings = []
    for source in {record.rescue for record in records.values() if record.rescue}:
        path = Path(source)
        if not path.is_file():
            continue
        try:
            found[source] = parse_report(read_report_json(path, _FIX), path)
        except (SplitterError, OSError) as exc:
            warnings.append(f"left out the rescued report {path}: {exc}")
    return found, warnings


def check_target(target: Path) -> None:
    """Refuse (UsageError) to replace `target` unless it is absent or a report we wrote."""
    if not target.exists() and not target.is_symlink():
        return
    refusal = (
        f"{target} exists and is not a report that `splitter report` wrote; pass an --out"
        " that is new or an earlier report, or move that file aside"
    )
    if target.is_dir():
        raise UsageError(f"{target} is a folder; pass --out a file name such as report.html")
    try:
        with open_regular(target) as f:
            head = f.read(_HEAD_BYTES)
    except (SplitterError, OSError):
        raise UsageError(refusal) from None
    if MARKER.encode() not in head and _OLD_MARKER not in head:
        raise UsageError(refusal)
