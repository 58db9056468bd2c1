"""The local engine: a crash-proof pool of worker processes on this machine.

`supervisor` runs in the parent (one pipe and one shared-memory slot per
worker, replacement of dead workers, timeouts); `worker` runs in each
spawned child (injection, the job, its row).
"""

from splitter.run.local.supervisor import LocalPool

__all__ = ["LocalPool"]
