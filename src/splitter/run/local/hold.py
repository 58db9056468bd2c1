"""What a batch's jobs hold (a Grant), and a worker taking it up: variables, CPUs, limits.

Runs in a worker process. The variables (SPLITTER_CORES, SPLITTER_GPUS,
CUDA_VISIBLE_DEVICES, the thread counts, ...) go into the worker's
environment, so a Python job's own subprocesses and the libraries it loads
see them; a variable an earlier batch set and this one does not is removed.
Pinning sets the CPU affinity of every thread of the worker, where the OS
has ``sched_setaffinity`` (Linux); elsewhere jobs run where the OS puts them.
The parent starts each worker with its first grant's variables already set
(`spawn_environment`), since numerical libraries and CUDA read them once,
when the process loads them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from splitter.run.injection import JobResources

if TYPE_CHECKING:
    from splitter.run.jobcall import JobCall

__all__ = ["Binding", "Grant", "Holder", "pin_threads", "spawn_environment"]

Binding = tuple[int, tuple[str, ...]]
"""What a worker process is started for: how many cores, which GPUs."""


@dataclass(frozen=True)
class Grant:
    """What a batch's jobs hold, as their worker applies it: sent with the batch.

    ``pin`` the CPUs to pin the worker to (empty: leave it); ``mem_limit`` the
    bytes each Python job may map beyond its worker's own (0: no limit), and
    ``group_mem`` the resident bytes a shell task's process group may use
    (0: not watched).
    """

    resources: JobResources
    pin: tuple[int, ...] = ()
    mem_limit: int = 0
    group_mem: int = 0

    @property
    def binding(self) -> Binding:
        """The worker this batch may run in: one started with these cores and GPUs."""
        return self.resources.cores, self.resources.gpus


class Holder:
    """Runs in a worker process: applies each batch's Grant to the worker and its JobCall."""

    def __init__(self, call: JobCall, environ: MutableMapping[str, str] = os.environ) -> None:
        self.call = call
        self.environ = environ
        self.grant: Grant | None = None
        self._set: set[str] = set()

    def hold(self, grant: Grant) -> None:
        """Take up ``grant`` for the jobs that follow (nothing to do if it is the last one)."""
        if grant == self.grant:
            return
        variables = grant.resources.environment
        for name in self._set - variables.keys():
            self.environ.pop(name, None)
        self.environ.update(variables)
        self._set = set(variables)
        if grant.pin and (self.grant is None or grant.pin != self.grant.pin):
            pin_threads(grant.pin)
        self.call.resources = grant.resources
        self.call.mem_limit = grant.mem_limit
        self.grant = grant


def pin_threads(cpus: Sequence[int]) -> bool:
    """Pin every thread of this process to ``cpus``; whether the OS allows it."""
    if not hasattr(os, "sched_setaffinity"):
        return False
    try:
        threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        threads = [0]  # no /proc: the calling thread, which starts the job
    pinned = False
    for thread in threads:
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.sched_setaffinity(thread, cpus)
            pinned = True
    return pinned


@contextlib.contextmanager
def spawn_environment(variables: Mapping[str, str]) -> Iterator[None]:
    """This process's environment with ``variables`` set, for a child started meanwhile."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
