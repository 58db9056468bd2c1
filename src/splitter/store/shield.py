"""Keep a signal's exception out of a frame write and the bookkeeping that goes with it.

A writer appends a frame, then forgets the rows it held. A signal handler that
raises (the runner's second Ctrl-C, SIGTERM) between those two steps would
leave the rows both in the file and in the buffer, and ``close`` would write
them again. Writers run that step inside ``atomic()``; a handler calls
``raise_or_defer(exc)``, which raises at once outside such a step and at its
end inside one. Python runs signal handlers in the main thread between
bytecodes, so a flag is enough: no OS signal mask is involved.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["atomic", "raise_or_defer"]


class _Shield:
    """How deep the current atomic steps are nested, and an exception they postponed."""

    depth = 0
    pending: BaseException | None = None


_SHIELD = _Shield()


@contextlib.contextmanager
def atomic() -> Iterator[None]:
    """A step a signal handler's exception must not cut; a postponed one is raised after it."""
    _SHIELD.depth += 1
    try:
        yield
    finally:
        _SHIELD.depth -= 1
    if _SHIELD.depth == 0 and _SHIELD.pending is not None:
        pending, _SHIELD.pending = _SHIELD.pending, None
        raise pending


def raise_or_defer(exc: BaseException) -> None:
    """Raise ``exc`` now, or at the end of the atomic step now running (from a signal handler)."""
    if _SHIELD.depth:
        if _SHIELD.pending is None:
            _SHIELD.pending = exc
        return
    raise exc
