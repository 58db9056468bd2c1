"""The local engine: a crash-proof pool of worker processes on this machine.

`supervisor` runs in the parent (one pipe and one shared-memory slot per
worker, replacement of dead workers, timeouts); `worker` runs in each
spawned child (injection, the job, its row).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from splitter.run.local.supervisor import LocalPool

__all__ = ["LocalPool"]


def __getattr__(name: str) -> Any:
    # Workers import `worker` through this package: they must not load the supervisor.
    if name == "LocalPool":
        from splitter.run.local.supervisor import LocalPool

        return LocalPool
    raise AttributeError(f"module 'splitter.run.local' has no attribute {name!r}")
