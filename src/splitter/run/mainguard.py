"""What worker processes need of the entry script, checked where the fix can be named.

Workers start with ``spawn``: each imports the entry script as ``__mp_main__``
(the code under ``if __name__ == "__main__":`` does not run there) and then
looks the job up by its module and name. Two mistakes break that, and both
used to surface as tracebacks from every worker:

- a job defined under the main guard, which the parent finds by its name
  but a worker does not: `check_not_under_main_guard` refuses it in the
  parent, before anything starts, naming the fix;
- a script that calls `splitter.main` with no main guard: every worker runs
  the whole command again. `leave_if_a_worker_imports_main` (called first
  thing by `splitter.main` and `run_jobs`) ends such a worker at once, quietly,
  with `UNGUARDED_EXIT`, and the parent's `start_failure` says what happened once.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from splitter.errors import UsageError

__all__ = [
    "UNGUARDED_EXIT",
    "check_not_under_main_guard",
    "leave_if_a_worker_imports_main",
    "start_failure",
]

UNGUARDED_EXIT = 86
"""The exit code of a worker that found itself running the entry script's command line."""


def leave_if_a_worker_imports_main() -> None:
    """End this process if it is a spawned worker importing the entry script (no main guard)."""
    if getattr(sys, "frozen", False):
        return  # a frozen worker leaves through freeze_support() before this
    # multiprocessing aliases __mp_main__ to __main__; only in a spawned child that is
    # importing the entry script is it another module, running as __mp_main__.
    importing = sys.modules.get("__mp_main__")
    named = getattr(importing, "__name__", None) == "__mp_main__"
    if named and importing is not sys.modules.get("__main__"):
        sys.exit(UNGUARDED_EXIT)


def start_failure(exitcode: int | None) -> str:
    """Why workers exit right after starting, from the exit code they left with."""
    script = Path(sys.argv[0]).name or "the entry script"
    if exitcode == UNGUARDED_EXIT:
        return (
            f'{script} calls splitter.main (or run_jobs) outside `if __name__ == "__main__":`,'
            " so every worker process started the whole command again; put that call, and the"
            " work before it, under the guard"
        )
    return (
        f"worker processes exit right after starting (exit code {exitcode}); {script} probably"
        " fails when imported by a worker: check the messages above, and keep its work"
        ' under `if __name__ == "__main__":`'
    )


def check_not_under_main_guard(job: Callable[..., Any]) -> None:
    """UsageError naming the fix for a job defined inside the entry script's main guard.

    The parent finds such a job in ``__main__`` and pickles it by name, but a
    worker imports the script without running that block: it would not find
    it. (A lambda or a nested function does not pickle at all; see
    `splitter.run.sendable`.)
    """
    if getattr(job, "__module__", None) != "__main__" or "<" in getattr(job, "__qualname__", "<"):
        return  # a lambda or a nested function: `check_sendable` names its fix
    path = _file_of(sys.modules.get("__main__"))
    name = getattr(job, "__name__", "job")
    if path is not None and _under_main_guard(path, getattr(job, "__code__", None)):
        raise UsageError(
            f'the job `{name}` is defined inside `if __name__ == "__main__":` in {path}, which'
            f" worker processes do not run, so they cannot import it; define `{name}` at"
            " module level, above that block"
        )


def _file_of(module: object) -> str | None:
    path = getattr(module, "__file__", None)
    return path if isinstance(path, str) else None


def _under_main_guard(path: str, code: object) -> bool:
    """Whether the function of ``code`` starts inside a top-level main guard of ``path``."""
    line = getattr(code, "co_firstlineno", None)
    if line is None:
        return False
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return False  # no source to read (a frozen binary): nothing to judge by
    return any(
        isinstance(node, ast.If)
        and _is_main_test(node.test)
        and node.lineno <= line <= (node.end_lineno or node.lineno)
        for node in tree.body
    )


def _is_main_test(test: ast.expr) -> bool:
    """``__name__ == "__main__"``, either way round."""
    if not isinstance(test, ast.Compare) or len(test.ops) != 1:
        return False
    sides = [test.left, *test.comparators]
    names = [side for side in sides if isinstance(side, ast.Name) and side.id == "__name__"]
    texts = [side for side in sides if isinstance(side, ast.Constant) and side.value == "__main__"]
    return isinstance(test.ops[0], ast.Eq) and len(names) == 1 and len(texts) == 1
