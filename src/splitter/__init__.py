"""splitter: split a research batch across a handful of unequal machines.

Deterministic, verifiable, crash-safe: every host computes the same plan from
the same job pool and configs, shows the same digest, runs only its share, and
`merge` puts the hosts' results back together.
"""

from __future__ import annotations

from splitter.errors import (
    ConfigError,
    MissingJobsError,
    SplitterError,
    UsageError,
    VerificationError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "MissingJobsError",
    "SplitterError",
    "UsageError",
    "VerificationError",
    "__version__",
]
