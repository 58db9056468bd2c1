"""splitter: split a research batch across a handful of unequal machines.

Deterministic, verifiable, crash-safe: every host computes the same plan from
the same job pool and configs, shows the same digest, runs only its share, and
`merge` puts the hosts' results back together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from splitter.errors import (
    ConfigError,
    MissingJobsError,
    SplitterError,
    UsageError,
    VerificationError,
)
from splitter.version import __version__

if TYPE_CHECKING:
    from splitter.api import run_jobs
    from splitter.cli import main
    from splitter.merge.export import read_results
    from splitter.run.tally import RunSummary

__all__ = [
    "ConfigError",
    "MissingJobsError",
    "RunSummary",
    "SplitterError",
    "UsageError",
    "VerificationError",
    "__version__",
    "main",
    "read_results",
    "run_jobs",
]

# Every worker process imports the entry script, and so this package: the
# command line, tqdm and the runner load only when the parent asks for them.
_LAZY = {
    "main": "splitter.cli",
    "read_results": "splitter.merge.export",
    "run_jobs": "splitter.api",
    "RunSummary": "splitter.run.tally",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'splitter' has no attribute {name!r}")
