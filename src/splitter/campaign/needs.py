"""What a job needs to run: cores, GPUs, memory, tags and named counts.

    needs= (one dict for every job, or a function of the item)
        --needs_of--> kinds (distinct Needs, first seen first) + each job's kind

Pure. A need is given as a dict, from Python (``{"cores": 4, "gpus": 1, "mem":
"8G", "tags": ["openfoam"]}``) or from a task file's ``#SPLITTER NEEDS cores=4
mem=8G tags=openfoam`` line (the same keys, values as text, tags as a tuple).
``cores`` defaults to 1, everything else to none; any other key is a named
count (``licences=2``) that only machines declaring it can hold. machines.json
(`splitter.campaign.machines`) declares capacities with the same names and the
same checks, which live here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from splitter.campaign.config import parse_filesize
from splitter.errors import UsageError

__all__ = [
    "MACHINE_FIELDS",
    "NEED_FIELDS",
    "Needs",
    "NeedsSpec",
    "describe_counts",
    "format_size",
    "name_problem",
    "needs_of",
    "parse_needs",
    "size_value",
    "tags_value",
    "whole_value",
]

NEED_FIELDS = ("cores", "gpus", "mem", "tags")
MACHINE_FIELDS = ("perf", "cores", "gpus", "mem", "tags")
SIZE_FORMS = "K, M, G, T count in 1024s, KB, MB, GB, TB in 1000s"
TAG_FORMS = "letters, digits, '.', '_', '+' and '-'"

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
_DIGITS = re.compile(r"[0-9]+")
_BARE_NUMBER = re.compile(r"\s*(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*")
_EXAMPLE = '{"cores": 4, "gpus": 1, "mem": "8G", "tags": ["openfoam"]}'
_FIX = f"give a dict like {_EXAMPLE}"


@dataclass(frozen=True)
class Needs:
    """What one job holds while it runs; build it with ``parse_needs``.

    ``mem`` is in bytes; ``tags`` and ``resources`` (named counts, none zero)
    are sorted, so equal needs compare and digest equal however they were written.
    """

    cores: int = 1
    gpus: int = 0
    mem: int = 0
    tags: tuple[str, ...] = ()
    resources: tuple[tuple[str, int], ...] = ()

    def counts(self) -> dict[str, int]:
        """Every count this job holds above zero: cores, gpus, mem and named counts."""
        counts = {"cores": self.cores, "gpus": self.gpus, "mem": self.mem, **dict(self.resources)}
        return {name: count for name, count in counts.items() if count}

    def canonical(self) -> tuple[int, int, int, tuple[str, ...], tuple[tuple[str, int], ...]]:
        """Plain values for the plan digest: (cores, gpus, mem, tags, named counts)."""
        return (self.cores, self.gpus, self.mem, self.tags, self.resources)

    def describe(self) -> str:
        """The needs as a task file writes them, like ``cores=4 gpus=1 mem=8G tags=openfoam``.

        Counts of zero and empty tags are left out: ``Needs()`` is ``cores=1``.
        """
        return describe_counts(self.counts(), self.tags or None)


NeedsSpec = Mapping[str, Any] | Needs | Callable[[Any], Any] | None
"""What ``needs=`` takes: one dict (or Needs) for every job, a function of the item, or None."""


def describe_counts(counts: Mapping[str, int], tags: Sequence[str] | None) -> str:
    """``name=value`` words: mem as a size, tags joined by commas (None: leave tags out)."""
    words = [
        f"{name}={format_size(value) if name == 'mem' else value}"
        for name, value in counts.items()
    ]
    if tags is not None:
        words.append(f"tags={','.join(tags) or '(none)'}")
    return " ".join(words)


def parse_needs(spec: Mapping[str, Any], where: str) -> Needs:
    """Check and type one job's needs; ``where`` names the job for messages ("job 3").

    Counts are whole numbers (ints, or digits as text); ``mem`` is a size with
    a unit ("8G"); ``tags`` a list or tuple of names. Every problem is one
    UsageError sentence naming ``where``, the value and the fix.
    """
    values: dict[str, int] = {"cores": 1, "gpus": 0, "mem": 0}
    tags: tuple[str, ...] = ()
    named: dict[str, int] = {}
    for key, value in spec.items():
        if not isinstance(key, str):
            raise UsageError(f"{where} needs {key!r}={value!r}, but names must be text; {_FIX}")
        if key == "tags":
            tags = _need_tags(value, where)
        elif key == "mem":
            values["mem"] = _need_mem(value, where)
        elif key in ("cores", "gpus"):
            values[key] = _need_count(key, value, 1 if key == "cores" else 0, where)
        else:
            _check_named(key, value, where)
            named[key] = _need_count(key, value, 0, where)
    folded = _folded_twice(named)
    if folded is not None:
        raise UsageError(
            f"{where} needs both {folded[0]} and {folded[1]}, which differ only in letter case "
            "(both would be one environment variable); keep one of them"
        )
    resources = tuple(sorted((name, count) for name, count in named.items() if count))
    return Needs(values["cores"], values["gpus"], values["mem"], tags, resources)


def needs_of(
    items: Sequence[Any], needs: NeedsSpec
) -> tuple[tuple[Needs, ...], npt.NDArray[np.int32]]:
    """Group the jobs into kinds: (distinct Needs in first-seen order, each job's kind index).

    ``needs`` is None (one core each), one dict or Needs for every job (one kind,
    no call per item, so 10**6 items cost one array), or a function of the item
    returning a dict or Needs. A function that raises, or returns anything
    else, is one UsageError sentence naming the job's index.
    """
    if needs is None or isinstance(needs, Needs | Mapping):
        single = needs if isinstance(needs, Needs) else parse_needs(needs or {}, "every job")
        return (single,), np.zeros(len(items), dtype=np.int32)
    if not callable(needs):
        raise UsageError(
            f"needs= is {type(needs).__name__}, but it must be a dict for every job or a "
            f"function of the item returning one, like needs={_EXAMPLE}"
        )
    kinds: dict[Needs, int] = {}
    parsed: dict[object, Needs] = {}
    kind_of_job = np.empty(len(items), dtype=np.int32)
    for index, item in enumerate(items):
        job = _call_needs(needs, item, index, parsed)
        kind_of_job[index] = kinds.setdefault(job, len(kinds))
    return tuple(kinds), kind_of_job


def _call_needs(
    needs: Callable[[Any], Any], item: Any, index: int, parsed: dict[object, Needs]
) -> Needs:
    try:
        value = needs(item)
    except Exception as error:  # the user's function: say which job made it fail
        raise UsageError(
            f"the needs function raised {type(error).__name__} ({error}) on job {index}; "
            f"make it return a dict like {_EXAMPLE} for every item"
        ) from None
    if isinstance(value, Needs):
        return value
    if not isinstance(value, Mapping):
        raise UsageError(
            f"the needs function returned {type(value).__name__} for job {index}, but it must "
            f"return a dict like {_EXAMPLE}"
        )
    key = _spec_key(value)
    if key is None:
        return parse_needs(value, f"job {index}")
    found = parsed.get(key)
    if found is None:
        found = parsed[key] = parse_needs(value, f"job {index}")
    return found


def _spec_key(spec: Mapping[str, Any]) -> object:
    """A hashable form of a needs dict, to parse each distinct one once; None if there is none."""
    try:
        pairs = tuple(
            (key, tuple(value) if isinstance(value, list) else value, type(value))
            for key, value in spec.items()
        )
        hash(pairs)
    except TypeError:
        return None
    return pairs


# Checks shared with machines.json: each returns the typed value, or None when
# the value is not of the form, so the caller can phrase the sentence.


def whole_value(value: object, least: int, *, text: bool = True) -> int | None:
    """A whole number of at least ``least`` (an int, or digits as text if ``text``); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif text and isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        return None
    return number if number >= least else None


def size_value(value: object) -> int | None:
    """Bytes of a size written with a unit ("8G", "512MB", "1.5GiB"); None for anything else.

    A bare number is refused: "mem": 64 would be 64 bytes, never what was meant.
    """
    if not isinstance(value, str) or _BARE_NUMBER.fullmatch(value):
        return None
    try:
        return parse_filesize(value)
    except ValueError:
        return None


def tags_value(value: object) -> tuple[str, ...] | None:
    """Sorted distinct tags from a list or tuple of names; None for anything else."""
    if not isinstance(value, list | tuple):
        return None
    if not all(isinstance(tag, str) and _TAG.fullmatch(tag) for tag in value):
        return None
    return tuple(sorted(set(value)))


def name_problem(name: str, fields: Sequence[str]) -> str | None:
    """Why ``name`` cannot name a count beside ``fields``, as a clause; None if it can."""
    for field in fields:
        if name != field and name.casefold() == field:
            return f"reads like {field}; write {field} in lower case"
    if not _NAME.fullmatch(name):
        return (
            "is not a name of letters, digits and '_' starting with a letter (it becomes "
            "an environment variable); rename it, like licences"
        )
    return None


def format_size(size: int) -> str:
    """A byte count as the largest 1024-based unit that holds it, like 8G or 1.5G."""
    for power, letter in ((4, "T"), (3, "G"), (2, "M"), (1, "K")):
        unit = 1024**power
        if size >= unit:
            if size % unit == 0:
                return f"{size // unit}{letter}"
            return f"{size / unit:.3g}{letter}"
    return f"{size}B" if size else "0"


def _need_count(key: str, value: object, least: int, where: str) -> int:
    number = whole_value(value, least)
    if number is None:
        what = "a whole number of at least 1" if least else "a whole number, 0 or more"
        raise UsageError(
            f"{where} needs {key}={value!r}, but {key} must be {what}, like {key}={least + 1}"
        )
    return number


def _need_mem(value: object, where: str) -> int:
    size = size_value(value)
    if size is None:
        raise UsageError(
            f"{where} needs mem={value!r}, but mem must be a size with a unit, like "
            f"mem=8G ({SIZE_FORMS})"
        )
    return size


def _need_tags(value: object, where: str) -> tuple[str, ...]:
    tags = tags_value(value)
    if tags is None:
        raise UsageError(
            f"{where} needs tags={value!r}, but tags must be a list of names ({TAG_FORMS}), "
            "like tags=['openfoam']"
        )
    return tags


def _check_named(key: str, value: object, where: str) -> None:
    if key == "perf":
        raise UsageError(
            f"{where} needs perf={value!r}, but perf is a machine's speed in machines.json, "
            "not a job's need; remove it"
        )
    problem = name_problem(key, NEED_FIELDS)
    if problem is not None:
        raise UsageError(f"{where} needs {key}={value!r}, but {key!r} {problem}")


def _folded_twice(named: Mapping[str, int]) -> tuple[str, str] | None:
    seen: dict[str, str] = {}
    for name in named:
        first = seen.setdefault(name.upper(), name)
        if first != name:
            return first, name
    return None
