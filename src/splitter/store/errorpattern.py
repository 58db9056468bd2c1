"""An error cell's text with its numbers masked: what tells failures that repeat apart.

    "KeyError: 'chunk 17'" --failure_pattern--> "KeyError: 'chunk N'"

Shared by the run's console (a repeated failure shows once) and the report
(failures grouped by message), so both group alike.
"""

from __future__ import annotations

import re

__all__ = ["failure_pattern"]

_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def failure_pattern(message: str) -> str:
    """`message` with every number (decimal, float, hex) replaced by N."""
    return _NUMBER.sub("N", message)
