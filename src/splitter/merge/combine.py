"""Merge host folders into one result set, one log and a completeness report.

    manifest.json x N --read_host, one plan digest?--> hosts
    results.csv.zst x N --scan_results--> BestRows (one kept row per job) --by job_id--> results
    log*.zst x N --read_log_records, heapq.merge by timestamp--> log
    counts, missing, damage --rules.merge_report--> report.json (+ summary line)
    merged results --reduce_merged: fn over the ok rows--> reduce.json

Memory holds one kept row per job, never all rows of all hosts; the log is
streamed. Every output goes to a temporary name first and is renamed only
when all of them are complete, so a failed merge leaves the old ones alone.
"""

from __future__ import annotations

import contextlib
import csv
import heapq
import io
import json
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from splitter.campaign.digest import group_digest
from splitter.errors import (
    EXIT_MISSING,
    EXIT_OK,
    ConfigError,
    ReduceError,
    UsageError,
)
from splitter.merge.capacity import (
    SUGGESTED_NAME,
    capacity_lines,
    capacity_report,
    machines_text,
    suggested_machines,
)
from splitter.merge.plans import MergedPlan, check_one_campaign, merged_plan, phase_fields
from splitter.merge.rules import (
    REPORT_NAME,
    BestRows,
    FolderCounts,
    merge_report,
    merge_summary,
    merged_columns,
    wall_seconds,
)
from splitter.merge.scan import Promoted, Scan, attempt_of, scan_results
from splitter.store.celltypes import ColumnKinds
from splitter.store.frames import FrameReader, FrameWriter, line_pieces
from splitter.store.hostfolder import HostFolder, job_columns, read_host
from splitter.store.jsonfile import read_json_object
from splitter.store.lock import LOCK_NAME
from splitter.store.logfile import LOG_NAME, log_parts, read_log_records
from splitter.store.manifest import MANIFEST_NAME
from splitter.store.outdir import is_moved_aside
from splitter.store.planfile import PLAN_FILE, write_plan_file
from splitter.store.results import BASE_COLUMNS, RESULTS_NAME, parse_cell
from splitter.store.rowformat import csv_field
from splitter.store.typesfile import TYPES_NAME, Kinds, read_types, types_text, union_of

__all__ = [
    "PARQUET_NAME",
    "REDUCE_NAME",
    "MergeResult",
    "merge_folders",
    "merged_kinds",
    "merged_rows",
    "reduce_merged",
]

REDUCE_NAME = "reduce.json"
PARQUET_NAME = "results.parquet"
_CHUNK_JOBS = 1 << 16  # kept rows joined per write
_FRAME_CHARS = 1 << 22  # characters per output frame
_LEVEL = 1  # zstd level of merged files: twice as fast as 3, and as small for CSV
_REPORT_LIMIT = 64 << 20  # bytes of an earlier report.json read to tell whose merge it was


@dataclass(frozen=True)
class MergeResult:
    """What `merge_folders` wrote and found; `report` is report.json's content."""

    out: Path
    results: Path
    columns: tuple[str, ...]
    report: dict[str, Any]
    summary: str
    warnings: tuple[str, ...]
    capacity: tuple[str, ...] = ()
    """The console's lines on each host's declared and observed capacity (may be none)."""

    def exit_code(self, partial: bool) -> int:
        """4 when jobs are missing, unless `partial`; else 0, even when some jobs failed.

        The merge of a finished phase (every missing job is of a phase not
        begun) is whole as far as it goes: 0.
        """
        missing = self.report["missing"] and not self.report.get("phase_pending")
        return EXIT_MISSING if missing and not partial else EXIT_OK


def merge_folders(
    folders: Sequence[Path],
    out: Path,
    *,
    plain: bool = False,
    force: bool = False,
    with_reduce: bool = False,
    plan: Path | None = None,
    parquet: bool = False,
) -> MergeResult:
    """Merge host folders (OUT/<machine>/) of one campaign into `out` (see PRODUCT.md, "Files").

    Folders of other plans of the same splitter.ini merge by job key against
    the newest plan (or ``plan``'s, a folder with a plan.zst); other
    splitter.inis are refused (VerificationError). `out` must not be a run's
    folder; existing merged files need `force` unless they are an earlier
    merge of the same folders; `with_reduce` also guards reduce.json. Beside
    the results go the kinds of their columns (results.types.json) and, with
    ``parquet``, results.parquet (UsageError at once without pyarrow).
    """
    if parquet:
        from splitter.merge.export import require_pyarrow

        require_pyarrow()
    folders, skipped = _without_moved_aside(folders)
    if not folders:
        raise UsageError("merge needs at least one host folder (OUT/<machine>/)")
    hosts = [read_host(Path(folder)) for folder in folders]
    check_one_campaign(hosts)
    _check_out(out, hosts)
    merged = merged_plan(hosts, plan)
    written = ("results.csv", "log.txt") if plain else (RESULTS_NAME, LOG_NAME)
    names: tuple[str, ...] = (*written, REPORT_NAME, SUGGESTED_NAME, PLAN_FILE, TYPES_NAME)
    names += (REDUCE_NAME,) if with_reduce else ()
    names += (PARQUET_NAME,) if parquet else ()
    _refuse_existing(out, names, force, [str(host.path) for host in hosts])
    columns = [job_columns(host) for host in hosts]
    union = merged_columns(columns, ())[len(BASE_COLUMNS) :]
    best: BestRows[str | Promoted] = BestRows(merged.total, attempt_of)
    promoted: dict[str, None] = {}
    scans = [
        # A folder without an end time gets its wall time from its rows' times.
        scan_results(
            host, union, best, promoted, times=not host.ended,
            find=None if merged.trusts(host) else merged.find,
        )
        for host in hosts
    ]  # fmt: skip
    header = merged_columns(columns, promoted)
    out.mkdir(parents=True, exist_ok=True)
    with _Staging(out) as staging:
        results = staging.new(names[0])
        _write_results(results, plain, header, len(union), best)
        kinds = merged_kinds(hosts, columns, tuple(promoted))
        staging.new(TYPES_NAME).write_text(types_text(kinds), "utf-8")
        if parquet:
            _write_parquet(staging.new(PARQUET_NAME), results, plain, kinds.frozen())
        damaged = [(str(scan.path), scan.damage) for scan in scans if scan.damage]
        damaged += _write_log(staging.new(names[1]), plain, hosts)
        counts = [_folder_counts(host, scan) for host, scan in zip(hosts, scans, strict=True)]
        report = merge_report(_campaign(hosts[0], merged), best, counts, damaged)
        report["no_longer_in_pool"] = sum(scan.gone for scan in scans)
        report["plans"] = [plan.as_json() for plan in merged.plans]
        report["missing_by_machine"] = merged.owners_of(report["missing"])
        report.update(phase_fields(merged, best.codes))
        runs = [(host.machine, host.observed) for host in hosts if host.observed is not None]
        report.update(capacity_report(runs))
        text = json.dumps(report, indent=2, allow_nan=False) + "\n"  # NaN is not JSON
        staging.new(REPORT_NAME).write_text(text, "utf-8")
        suggested = suggested_machines(runs)
        if suggested:
            staging.new(SUGGESTED_NAME).write_text(machines_text(suggested), "utf-8")
        write_plan_file(staging.folder(PLAN_FILE), merged.record)
    absent = [str(scan.path.parent) for scan in scans if not scan.found]
    suggested_path = str(out / SUGGESTED_NAME) if suggested else None
    warnings = [*_skipped_notes(skipped), *_warnings(hosts, damaged), *_plan_notes(merged)]
    return MergeResult(
        out, out / names[0], header, report, merge_summary(report, str(out), absent),
        tuple(warnings), tuple(capacity_lines(report, suggested_path)),
    )  # fmt: skip


def merged_kinds(
    hosts: Sequence[HostFolder], columns: Sequence[tuple[str, ...]], promoted: tuple[str, ...]
) -> ColumnKinds:
    """The kinds of the merged columns: every host's; unknown where a host kept none."""
    records = [read_types(host.path / TYPES_NAME) for host in hosts]
    return union_of(
        [(kinds, (*names, *promoted)) for kinds, names in zip(records, columns, strict=True)]
    )


def _write_parquet(path: Path, results: Path, plain: bool, kinds: Kinds) -> None:
    from splitter.merge.export import write_parquet
    from splitter.merge.table import table_of

    write_parquet(path, table_of(results, kinds, plain=plain))


def _campaign(host: HostFolder, merged: MergedPlan) -> dict[str, str]:
    return {
        "digest": merged.record.plan_digest, "pool_digest": merged.record.pool_digest,
        "config_digest": host.config_digest.hex(), "campaign_seed": host.campaign_seed.hex(),
    }  # fmt: skip


def _without_moved_aside(folders: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """The folders, less the ones `run --fresh` moved aside (``<machine>.previous-<time>``)."""
    kept = [Path(folder) for folder in folders if not is_moved_aside(Path(folder))]
    return kept, [Path(folder) for folder in folders if is_moved_aside(Path(folder))]


def _skipped_notes(skipped: Sequence[Path]) -> Iterator[str]:
    for folder in skipped:
        yield f"skipped {folder}: an earlier run that `run --fresh` moved aside"


def _plan_notes(merged: MergedPlan) -> Iterator[str]:
    newest = merged.record.plan_digest
    for plan in merged.plans:
        if plan.digest != newest:
            yield (
                f"{', '.join(plan.folders)} ran an earlier plan"
                f" ({group_digest(bytes.fromhex(plan.digest[:16]))}); its rows were matched by"
                f" job key to plan {group_digest(bytes.fromhex(newest[:16]))} (from"
                f" {merged.source}; --plan DIR chooses another)"
            )


def _check_out(out: Path, hosts: Sequence[HostFolder]) -> None:
    if any(out.resolve() == host.path.resolve() for host in hosts):
        raise UsageError(f"--out {out} is one of the host folders; choose another folder")
    # run.lock too: a host folder whose manifest.json was lost is still one.
    for name in (MANIFEST_NAME, LOCK_NAME):
        if os.path.lexists(out / name):
            raise UsageError(
                f"--out {out} holds a run's {name}: it is a host folder, whose results"
                " merge must never replace, with or without --force; choose another --out"
            )


def _folder_counts(host: HostFolder, scan: Scan) -> FolderCounts:
    return FolderCounts(
        machine=host.machine, folder=str(host.path), digest=host.digest.hex(), rows=scan.rows,
        statuses=scan.statuses, share=host.share, state=host.state,
        wall_seconds=host.observed.wall_seconds if host.observed is not None  # as `run` said
        else wall_seconds(host.started, host.ended, scan.first_start, scan.last_end),
    )  # fmt: skip


def _refuse_existing(out: Path, names: Sequence[str], force: bool, inputs: Sequence[str]) -> None:
    """Refuse to replace merged files, unless forced or an earlier merge of the same folders."""
    if force or _same_merge(out, inputs):
        return
    for name in names:
        if (out / name).exists():
            raise ConfigError(
                f"{out / name} already exists; pass --force to overwrite the merged files"
                " in it, or choose another --out"
            )


def _same_merge(out: Path, inputs: Sequence[str]) -> bool:
    """Whether `out` holds a merge of exactly these folders (merging again just redoes it)."""
    try:
        earlier = read_json_object(out / REPORT_NAME, _REPORT_LIMIT, "merge again")
    except (OSError, ConfigError):
        return False
    return earlier.get("inputs") == list(inputs)


def _warnings(hosts: Sequence[HostFolder], damaged: Sequence[tuple[str, str]]) -> Iterator[str]:
    for host in hosts:
        if host.state == "running":
            yield f"{host.path} is still running; rows it writes later are not in this merge"
    for file, problem in damaged:
        yield f"{file}: {problem}; merged what decoded before it"


class _Staging:
    """Temporary files in `out`, renamed to their names on success, removed on failure."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self._files: dict[str, Path] = {}
        self._folders: dict[str, Path] = {}

    def folder(self, name: str) -> Path:
        """A temporary folder for a writer that makes its own file; it holds ``name`` then."""
        temp = self.out / f".{name}.{secrets.token_hex(8)}.tmp.d"
        temp.mkdir()
        self._folders[name] = temp
        return temp

    def new(self, name: str) -> Path:
        # Not mkstemp: its files are private (0600), merged files are for sharing.
        temp = self.out / f".{name}.{secrets.token_hex(8)}.tmp"
        temp.touch(exist_ok=False)
        self._files[name] = temp
        return temp

    def __enter__(self) -> _Staging:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for name, folder in self._folders.items():
            self._files[name] = folder / name
        for name, temp in self._files.items():
            if kind is None:
                os.replace(temp, self.out / name)
            else:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
        for folder in self._folders.values():
            with contextlib.suppress(OSError):
                folder.rmdir()


class _Buffer:
    """Text gathered into pieces of about `_FRAME_CHARS`, each handed to `emit` whole.

    A piece ends only where a `write` ended, so pieces of whole lines stay whole.
    """

    def __init__(self, emit: Callable[[str], object]) -> None:
        self._emit = emit
        self._parts: list[str] = []
        self._size = 0

    def write(self, text: str) -> None:
        self._parts.append(text)
        self._size += len(text)
        if self._size >= _FRAME_CHARS:
            self.flush()

    def flush(self) -> None:
        if self._parts:
            self._emit("".join(self._parts))
        self._parts.clear()
        self._size = 0


@contextlib.contextmanager
def _text_out(path: Path, plain: bool, csv: bool) -> Iterator[_Buffer]:
    """Write text to a plain file, or to zstd frames of whole lines; fsync'd at the end.

    ``csv``: the text is CSV rows, which a frame ends only between.
    """
    if plain:
        with open(path, "w", encoding="utf-8", newline="") as f:
            buffer = _Buffer(f.write)
            yield buffer
            buffer.flush()
            f.flush()
            os.fsync(f.fileno())
    else:
        with FrameWriter(path, _LEVEL) as frames:  # its close fsyncs
            buffer = _Buffer(
                lambda text: frames.write_frames(line_pieces(text.encode("utf-8"), csv=csv))
            )
            yield buffer
            buffer.flush()


def _write_results(
    path: Path, plain: bool, header: tuple[str, ...], width: int, best: BestRows[str | Promoted]
) -> None:
    """The kept rows in job_id order; the promoted columns after `width` job columns."""
    extra = header[len(BASE_COLUMNS) + width :]
    with _text_out(path, plain, csv=True) as out:
        out.write(",".join(map(csv_field, header)) + "\n")
        for start in range(0, best.total, _CHUNK_JOBS):
            kept = best.kept(start, start + _CHUNK_JOBS)
            if extra:
                lines = [_with_promoted(row, extra) for row in kept]
            else:  # only a row with promoted cells is a Promoted
                lines = cast("list[str]", kept)
            if lines:
                out.write("\n".join(lines) + "\n")


def _with_promoted(row: str | Promoted, names: tuple[str, ...]) -> str:
    if isinstance(row, str):
        return row + "," * len(names)
    return ",".join((row.line, *(csv_field(row.cells.get(name, "")) for name in names)))


def _write_log(path: Path, plain: bool, hosts: Sequence[HostFolder]) -> list[tuple[str, str]]:
    """All hosts' records in timestamp order (a k-way merge); returns the damaged files."""
    streams = [read_log_records(log_parts(host.path)) for host in hosts]
    with _text_out(path, plain, csv=False) as out:
        for _, text in heapq.merge(*streams, key=itemgetter(0)):
            out.write(text + "\n")
    return [(str(file), problem) for stream in streams for file, problem in stream.damage]


def merged_rows(path: Path) -> Iterator[list[str]]:
    """The rows of a merged results file (results.csv or results.csv.zst), header first."""
    if path.suffix == ".csv":
        with open(path, encoding="utf-8", newline="") as f:
            yield from csv.reader(f)
        return
    for payload in FrameReader(path):
        yield from csv.reader(io.StringIO(payload.decode("utf-8")))


def reduce_merged(
    result: MergeResult, fn: Callable[[Any, dict[str, Any]], Any], initial: Any
) -> Any:
    """Fold `fn(accumulator, row)` over the merged ok rows in job_id order; save reduce.json.

    A row is {"job_id": int, <job column>: parse_cell(text), ...}. Raises
    ReduceError naming the job whose row `fn` failed on.
    """
    rows = merged_rows(result.results)
    header = next(rows)
    names = header[len(BASE_COLUMNS) :]
    accumulator = initial
    for cells in rows:
        if cells[2] != "ok":
            continue
        row: dict[str, Any] = {"job_id": int(cells[0])}
        row.update(zip(names, map(parse_cell, cells[len(BASE_COLUMNS) :]), strict=True))
        try:
            accumulator = fn(accumulator, row)
        except Exception as exc:
            raise ReduceError(
                f"reduce failed on the row of job {row['job_id']} ({type(exc).__name__}: {exc});"
                f" the merged files in {result.out} are written, so fix the reduce function"
                " and merge again with --force"
            ) from exc
    with _Staging(result.out) as staging:
        text = json.dumps(accumulator, default=str, indent=2) + "\n"
        staging.new(REDUCE_NAME).write_text(text, "utf-8")
    return accumulator
