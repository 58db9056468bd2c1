"""Write and read OUT/<machine>/plan.zst: the plan a folder ran, as every job's key and owner.

    first frame   JSON: format, plan and pool digests, the machines' names, the job
                  count, the barriers (their line, and whether they check)
    then          frames of records, one per job in job id order: the job key's 16
                  bytes, the index of the machine that owns it and the job's phase
                  (uint16, little-endian)

Every host folder keeps the whole campaign's plan beside its results, so the
folders alone tell `merge` which jobs the newest plan holds and who owned
each (to group what is missing by machine) and which phase each is of,
and `plan --since DIR` what moved between two plans, with no job pool at
hand. Written once per plan (write, then rename); the job keys make the file
about 20 bytes per job.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from splitter.campaign.phases import Barrier
from splitter.store.frames import FRAME_BYTES, CorruptFileError, FrameReader, FrameWriter

__all__ = ["PLAN_FILE", "PlanRecord", "read_plan_file", "write_plan_file"]

PLAN_FILE = "plan.zst"
_FORMAT = 1
_RECORD = np.dtype([("key", "<u8", (2,)), ("owner", "<u2"), ("phase", "<u2")])
_RECORDS_PER_FRAME = FRAME_BYTES // _RECORD.itemsize  # readers bound a frame's size
_MAX_MACHINES = 0xFFFF


@dataclass(frozen=True)
class PlanRecord:
    """A plan as a folder recorded it: digests, machine names, and per job its key and owner."""

    plan_digest: str
    pool_digest: str
    machines: tuple[str, ...]
    keys: npt.NDArray[np.uint64]
    """(jobs, 2) uint64: job id i's key as [low, high] words."""
    owners: npt.NDArray[np.uint16]
    """Index into ``machines`` of the machine that owns each job."""
    phases: npt.NDArray[np.uint16] | None = None
    """Each job's phase (None: all 0, a campaign without barriers)."""
    barriers: tuple[Barrier, ...] = ()
    """The barriers between the phases, in order."""

    def phase_of(self) -> npt.NDArray[np.uint16]:
        """Each job's phase, 0 throughout without barriers."""
        if self.phases is None:
            return np.zeros(self.total, dtype=np.uint16)
        return self.phases

    @property
    def total(self) -> int:
        """The number of jobs in the plan."""
        return len(self.owners)


def write_plan_file(folder: Path, record: PlanRecord, level: int = 1) -> Path:
    """Write ``folder/plan.zst`` for ``record`` (write, then rename); return its path."""
    if len(record.machines) > _MAX_MACHINES:
        raise ValueError(f"a plan file names at most {_MAX_MACHINES} machines")
    target = folder / PLAN_FILE
    temporary = folder / f".{PLAN_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    header = {
        "format": _FORMAT, "plan_digest": record.plan_digest,
        "pool_digest": record.pool_digest, "machines": list(record.machines),
        "jobs": record.total,
        "barriers": [[barrier.line, barrier.check] for barrier in record.barriers],
    }  # fmt: skip
    records = np.empty(record.total, dtype=_RECORD)
    records["key"] = record.keys
    records["owner"] = record.owners
    records["phase"] = record.phase_of()
    try:
        with FrameWriter(temporary, level) as frames:
            frames.write_frame(json.dumps(header).encode("utf-8"))
            for start in range(0, record.total, _RECORDS_PER_FRAME):
                frames.write_frame(records[start : start + _RECORDS_PER_FRAME].tobytes())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


def read_plan_file(folder: Path) -> PlanRecord | None:
    """The plan recorded in ``folder/plan.zst``; None when the folder has none.

    A file that is damaged, cut off or inconsistent is a CorruptFileError
    naming it: a plan is written whole or not at all.
    """
    path = folder / PLAN_FILE
    if not path.exists():
        return None
    reader = FrameReader(path)
    frames = iter(reader)
    first = next(frames, None)
    plan_digest, pool_digest, machines, jobs, barriers = _header(path, first)
    data = bytearray()
    for payload in frames:
        data += payload
        if len(data) > jobs * _RECORD.itemsize:
            break
    if reader.damage is not None or len(data) != jobs * _RECORD.itemsize:
        raise _corrupt(path, "is cut off or damaged")
    records = np.frombuffer(bytes(data), dtype=_RECORD)
    owners = records["owner"].astype(np.uint16)
    if len(owners) and int(owners.max()) >= len(machines):
        raise _corrupt(path, "names an owner that is not one of its machines")
    phases = records["phase"].astype(np.uint16)
    if len(phases) and int(phases.max()) > len(barriers):
        raise _corrupt(path, "names a phase beyond its barriers")
    keys = records["key"].astype(np.uint64).reshape(jobs, 2)
    return PlanRecord(plan_digest, pool_digest, machines, keys, owners, phases, barriers)


def _header(
    path: Path, first: bytes | None
) -> tuple[str, str, tuple[str, ...], int, tuple[Barrier, ...]]:
    if first is None:
        raise _corrupt(path, "holds no plan header")
    try:
        header = json.loads(first.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise _corrupt(path, "does not start with a plan header") from None
    valid = (
        isinstance(header, dict)
        and header.get("format") == _FORMAT
        and all(isinstance(header.get(name), str) for name in ("plan_digest", "pool_digest"))
        and _names(header.get("machines"))
        and type(header.get("jobs")) is int
        and 0 <= header["jobs"] < 1 << 40
        and _barriers(header.get("barriers"))
    )
    if not valid:
        raise _corrupt(path, "has a plan header splitter did not write")
    names = tuple(header["machines"])
    barriers = tuple(Barrier(line, check) for line, check in header["barriers"])
    return header["plan_digest"], header["pool_digest"], names, header["jobs"], barriers


def _barriers(value: object) -> bool:
    return isinstance(value, list) and all(
        isinstance(pair, list) and len(pair) == 2 and type(pair[0]) is int
        and type(pair[1]) is bool for pair in value
    )  # fmt: skip


def _names(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(name, str) for name in value)


def _corrupt(path: Path, problem: str) -> CorruptFileError:
    return CorruptFileError(
        f"{path} {problem}; restore the {PLAN_FILE} that `run` wrote there, or run that"
        " folder's plan again to rewrite it"
    )
