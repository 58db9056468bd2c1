"""Keep a job to the memory it declared, with ``[run] enforce_mem = true``.

Two guards, one per kind of job:

- A Python job runs under an address-space limit (RLIMIT_AS) of what its
  worker process had mapped when the job began plus the job's declared
  memory. An allocation past it fails with MemoryError, which the job's row
  records as ``used more than its 8 GiB``; the worker lifts the limit after
  the job and goes on. It counts virtual memory: what NumPy, BLAS threads or
  a memory-mapped file reserve counts too, even if never touched. Runs in a
  worker process.
- A shell task's processes are watched from the parent: the resident memory
  of the task's process group, read from /proc; past the declared memory the
  group is killed and the task recorded as an error the same way. A process
  that leaves the group (setsid) is not counted.

Where the OS has neither (no RLIMIT_AS, no /proc: Windows, macOS for
tasks), nothing is enforced. A cgroup v2 ``memory.max`` would bound a task
group's pages exactly, but needs a cgroup delegated to the user running
splitter, which a workstation or a cluster node rarely gives.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["address_space_limit", "group_resident", "mapped_bytes", "over_memory", "size_words"]

PROC = Path("/proc")


def mapped_bytes() -> int | None:
    """This process's virtual memory size in bytes; None where /proc is absent."""
    try:
        pages = int((PROC / "self" / "statm").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


@contextlib.contextmanager
def address_space_limit(extra: int) -> Iterator[None]:
    """Run the block with RLIMIT_AS at what this process maps now plus ``extra`` bytes.

    Runs in a worker process. Does nothing for ``extra`` 0, or where the OS
    has no RLIMIT_AS or no /proc to say what is mapped now.
    """
    used = mapped_bytes() if extra > 0 else None
    try:
        import resource
    except ImportError:  # Windows
        used = None
    if used is None:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = used + extra if hard == resource.RLIM_INFINITY else min(hard, used + extra)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (OSError, ValueError):
        yield  # The OS refuses the limit (macOS): the job runs unguarded.
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def group_resident(group: int, proc: Path = PROC) -> int | None:
    """The resident bytes of every process in process group ``group``; None without /proc."""
    if not proc.is_dir():
        return None
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # Fields after the command, which may hold spaces and parentheses.
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == group:
                total += int((entry / "statm").read_text().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue  # It ended while we looked.
    return total


def over_memory(group: int, limit: int) -> int | None:
    """The resident bytes of ``group`` if they exceed ``limit``; else None."""
    used = group_resident(group)
    return used if used is not None and used > limit else None


def size_words(size: int) -> str:
    """A byte count as a person says it, in the largest 1024-based unit: ``8 GiB``, ``1.5 MiB``."""
    for power, unit in ((4, "TiB"), (3, "GiB"), (2, "MiB"), (1, "KiB")):
        if size >= 1024**power:
            return f"{size / 1024**power:.3g} {unit}"
    return f"{size} B"
