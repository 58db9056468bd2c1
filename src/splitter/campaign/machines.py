"""Load and validate machines.json: the machines of a campaign, in order.

The file is a JSON object ``{"name": [per_thread_perf, cores], ...}``, where an
entry may also be the long form ``{"perf": 1.0, "cores": 8, "gpus": 2, "mem":
"64G", "tags": ["openfoam"], "licences": 4}``: perf and cores as before, then
what else the machine holds (every other name is a named count, like
licences). Its order is part of the plan (the split walks the machines in file
order), so it is kept. Every name becomes a folder name on every host and in
the merged output, so a name must be usable as a folder on Linux and on
Windows alike.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from splitter.campaign.config import read_config_text
from splitter.campaign.needs import (
    MACHINE_FIELDS,
    SIZE_FORMS,
    TAG_FORMS,
    describe_counts,
    name_problem,
    size_value,
    tags_value,
    whole_value,
)
from splitter.errors import ConfigError, UsageError

__all__ = [
    "MACHINES_FILE",
    "MAX_NAME_LENGTH",
    "Machine",
    "check_machine_name",
    "find_machine",
    "load_machines",
    "machine_for_hostname",
    "machine_name_problem",
    "parse_machines",
]

MACHINES_FILE = "machines.json"
MAX_NAME_LENGTH = 100

_SHAPE = 'write it as {"name": [per_thread_perf, cores], ...}'
_WINDOWS_FORBIDDEN = '<>:"|?*'
# Windows 10+ also reserves the superscript-digit forms of COM and LPT.
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"{port}{digit}" for port in ("COM", "LPT") for digit in "123456789¹²³"]
)


@dataclass(frozen=True)
class Machine:
    """One entry of machines.json: a name, its per-thread performance and what it holds.

    ``mem`` is in bytes (0: none declared, so no job that needs memory goes
    there); ``tags`` and ``resources`` (named counts) are sorted.
    """

    name: str
    perf: float
    cores: int
    gpus: int = 0
    mem: int = 0
    tags: tuple[str, ...] = ()
    resources: tuple[tuple[str, int], ...] = ()

    @property
    def weight(self) -> float:
        """Compute ability: per-thread performance times cores."""
        return self.perf * self.cores

    def capacity(self) -> dict[str, int]:
        """Every count the machine holds: cores, gpus, mem and its named counts."""
        return {"cores": self.cores, "gpus": self.gpus, "mem": self.mem, **dict(self.resources)}

    @property
    def cores_only(self) -> bool:
        """Whether the machine declares nothing beyond perf and cores (the short form)."""
        return not (self.gpus or self.mem or self.tags or self.resources)

    def describe(self, names: Sequence[str], tags: bool) -> str:
        """The counts called ``names`` (and the tags, if ``tags``) as ``cores=8 mem=64G`` words."""
        capacity = self.capacity()
        return describe_counts(
            {name: capacity.get(name, 0) for name in names}, self.tags if tags else None
        )


@dataclass(frozen=True)
class _JsonObject:
    """A JSON object as its pairs in file order, duplicates kept so we can reject them."""

    pairs: tuple[tuple[str, object], ...]


def parse_machines(text: str, source: str) -> tuple[Machine, ...]:
    """Parse machines.json text; ``source`` is the path as the user should see it."""
    try:
        document = json.loads(text, object_pairs_hook=lambda pairs: _JsonObject(tuple(pairs)))
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"{source}: line {error.lineno}, column {error.colno} is not valid JSON "
            f"({error.msg}); {_SHAPE}"
        ) from None
    except RecursionError:
        raise ConfigError(f"{source}: the JSON is nested too deeply to read; {_SHAPE}") from None
    if not isinstance(document, _JsonObject):
        raise ConfigError(
            f"{source}: the file holds {_show(document)}, but it must be a JSON object; {_SHAPE}"
        )
    if not document.pairs:
        raise ConfigError(f"{source}: the object lists no machines; {_SHAPE} with at least one")
    _reject_duplicate_names([name for name, _ in document.pairs], source)
    return tuple(_machine(name, value, source) for name, value in document.pairs)


def load_machines(path: Path) -> tuple[Machine, ...]:
    """Read and validate a machines.json file (UTF-8, with or without a BOM)."""
    text = read_config_text(path)
    if text is None:
        raise ConfigError(
            f"{path} does not exist; `splitter init --configs {path.parent}` writes a template"
        )
    return parse_machines(text, str(path))


def find_machine(machines: Sequence[Machine], name: str, source: str) -> Machine:
    """Return the machine called exactly ``name``, or say which names there are."""
    for machine in machines:
        if machine.name == name:
            return machine
    known = ", ".join(machine.name for machine in machines)
    raise UsageError(
        f"machine {name!r} is not in {source} (known: {known}); pass --machine with one of them"
    )


def machine_for_hostname(machines: Sequence[Machine], hostname: str) -> Machine | None:
    """The entry this host most likely is, to preselect at the prompt; None if no match.

    Tried in turn: the exact hostname, the hostname ignoring case, and its first
    dot-separated label ignoring case (``lab1`` for ``LAB1.example.org``).
    """
    for machine in machines:
        if machine.name == hostname:
            return machine
    by_folded: dict[str, Machine] = {}
    for machine in machines:
        by_folded.setdefault(_fold(machine.name), machine)
    return by_folded.get(_fold(hostname)) or by_folded.get(_fold(hostname.split(".")[0]))


def machine_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a machine (folder) name, as a clause with its fix; None if fine.

    The clause reads after "machine 'NAME' ", e.g. "has a name ending in '.', ...".
    """
    if not name:
        return "has an empty name; give every machine a name, like 'lab-1'"
    if name.strip() != name:
        return "has a name with leading or trailing whitespace; remove the spaces"
    if "/" in name or "\\" in name:
        return "has a name with '/' or '\\', but names become folder names; use '-' instead"
    if name in (".", ".."):
        return "has a name that cannot be a folder name; pick another name, like 'lab-1'"
    if any(unicodedata.category(char) == "Cc" for char in name):
        return "has a name with a control character; remove it, since names become folder names"
    for char in _WINDOWS_FORBIDDEN:
        if char in name:
            return f"has a name with {char!r}, which Windows forbids in folder names; use '-'"
    if name.endswith("."):
        return "has a name ending in '.', which Windows drops from folder names; remove the dot"
    device = name.split(".")[0].rstrip(" ").upper()
    if device in _WINDOWS_DEVICES:
        return f"has a name Windows reserves for the device {device}; rename it, like 'pc-{name}'"
    return _length_problem(name)


def check_machine_name(name: str, given_by: str) -> str:
    """``name`` when it can be a machine (folder) name, as machines.json's; else a UsageError.

    For names that come from elsewhere (``--machine``, $SPLITTER_MACHINE, ...):
    ``given_by`` says where, so the message can name it.
    """
    problem = machine_name_problem(name)
    if problem is not None:
        raise UsageError(f"machine {name!r} given by {given_by} {problem}")
    return name


def _length_problem(name: str) -> str | None:
    if len(name) > MAX_NAME_LENGTH:
        return (
            f"has a name {len(name)} characters long; "
            f"shorten it to at most {MAX_NAME_LENGTH}, since names become folder names"
        )
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate, which JSON's \ud800 escapes allow
        return "has a name with a lone surrogate escape like \\ud800, which is not text; remove it"
    # Linux file systems cap a name at 255 bytes, counted in UTF-8.
    if size > 255:
        return (
            f"has a name {size} bytes long in UTF-8; "
            "shorten it to at most 255 bytes, since names become folder names"
        )
    return None


def _machine(name: str, value: object, source: str) -> Machine:
    """Validate one ``"name": [perf, cores]`` or ``"name": {"perf": ..., ...}`` entry."""
    problem = machine_name_problem(name)
    if problem is not None:
        raise ConfigError(f"{source}: machine {name!r} {problem}")
    if isinstance(value, _JsonObject):
        machine = _long_form(name, value, source)
    elif isinstance(value, list) and len(value) == 2:
        perf = _perf(name, value[0], source, "[1.5, 8]")
        machine = Machine(name=name, perf=perf, cores=_cores(name, value[1], source, "[1.0, 8]"))
    else:
        raise ConfigError(
            f"{source}: machine {name!r} has {_show(value)}, but each machine must be "
            '[per_thread_perf, cores], like [1.0, 8], or an object like {"perf": 1.0, "cores": 8}'
        )
    for field, count in machine.capacity().items():
        if not _finite_product(machine.perf, count):
            raise ConfigError(
                f"{source}: machine {name!r} has perf x {field} too large to compute with; "
                "give perf relative to your slowest machine, like [1.0, 8]"
            )
    return machine


def _long_form(name: str, entry: _JsonObject, source: str) -> Machine:
    """Validate ``{"perf": 1.0, "cores": 8, "gpus": 2, "mem": "64G", "tags": [...], ...}``."""
    fields: dict[str, object] = {}
    for field, value in entry.pairs:
        if field in fields:
            raise ConfigError(
                f"{source}: machine {name!r} lists {field!r} twice; keep one {field!r}"
            )
        fields[field] = value
    for needed, example in (("perf", '"perf": 1.0'), ("cores", '"cores": 8')):
        if needed not in fields:
            raise ConfigError(
                f"{source}: machine {name!r} has no {needed!r}; every machine gives perf and "
                f"cores, like {{{example}, ...}}"
            )
    perf = _perf(name, fields.pop("perf"), source, '"perf": 1.5')
    cores = _cores(name, fields.pop("cores"), source, '"cores": 8')
    gpus = _count(name, "gpus", fields.pop("gpus", 0), source)
    mem = _mem(name, fields.pop("mem"), source) if "mem" in fields else 0
    tags = _tags(name, fields.pop("tags", []), source)
    resources = _named_counts(name, fields, source)
    return Machine(name, perf, cores, gpus, mem, tags, resources)


def _perf(name: str, perf: object, source: str, example: str) -> float:
    if isinstance(perf, bool) or not isinstance(perf, int | float):
        raise ConfigError(
            f"{source}: machine {name!r} has perf {_show(perf)}, "
            f"but perf must be a number, like {example}"
        )
    try:
        value = float(perf)
    except OverflowError:  # a JSON integer beyond float range
        value = math.inf
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(
            f"{source}: machine {name!r} has perf {_show(perf)}, "
            f"but perf must be a finite number above 0, like {example}"
        )
    return value


def _cores(name: str, cores: object, source: str, example: str) -> int:
    value = whole_value(cores, 1, text=False)
    if value is None:
        raise ConfigError(
            f"{source}: machine {name!r} has cores {_show(cores)}, "
            f"but cores must be a positive whole number, like {example}"
        )
    return value


def _count(name: str, field: str, count: object, source: str) -> int:
    value = whole_value(count, 0, text=False)
    if value is None:
        raise ConfigError(
            f"{source}: machine {name!r} has {field} {_show(count)}, but {field} must be a "
            f'whole number, 0 or more, like "{field}": 2'
        )
    return value


def _mem(name: str, mem: object, source: str) -> int:
    value = size_value(mem)
    if value is None:
        raise ConfigError(
            f"{source}: machine {name!r} has mem {_show(mem)}, but mem must be a size with a "
            f'unit, like "mem": "64G" ({SIZE_FORMS})'
        )
    return value


def _tags(name: str, tags: object, source: str) -> tuple[str, ...]:
    value = tags_value(tags)
    if value is None:
        raise ConfigError(
            f"{source}: machine {name!r} has tags {_show(tags)}, but tags must be a list of "
            f'names ({TAG_FORMS}), like "tags": ["openfoam"]'
        )
    return value


def _named_counts(
    name: str, fields: dict[str, object], source: str
) -> tuple[tuple[str, int], ...]:
    """Every other field is a named count, like ``"licences": 4``."""
    counts: dict[str, int] = {}
    by_variable: dict[str, str] = {}
    for field, count in fields.items():
        problem = name_problem(field, MACHINE_FIELDS)
        if problem is not None:
            raise ConfigError(
                f"{source}: machine {name!r} has a count named {field!r}, which {problem}"
            )
        first = by_variable.setdefault(field.upper(), field)
        if first != field:
            raise ConfigError(
                f"{source}: machine {name!r} has counts {first!r} and {field!r}, which differ "
                "only in letter case (both would be one environment variable); keep one"
            )
        value = whole_value(count, 0, text=False)
        if value is None:
            raise ConfigError(
                f"{source}: machine {name!r} has {field} {_show(count)}, but every field "
                "besides perf, cores, gpus, mem and tags is a named count, a whole number "
                f'0 or more, like "{field}": 4'
            )
        counts[field] = value
    return tuple(sorted((field, count) for field, count in counts.items() if count))


def _finite_product(perf: float, count: int) -> bool:
    try:
        return math.isfinite(perf * count)
    except OverflowError:  # a count beyond float range
        return False


def _reject_duplicate_names(names: list[str], source: str) -> None:
    """Reject repeated names, and names that would share a folder on Windows or macOS."""
    seen: dict[str, str] = {}
    for name in names:
        first = seen.get(_fold(name))
        if first == name:
            raise ConfigError(
                f"{source}: machine {name!r} is listed twice; keep one entry per machine"
            )
        if first is not None:
            raise ConfigError(
                f"{source}: machines {first!r} and {name!r} differ only in letter case, "
                "so they would share one folder on Windows and macOS; rename one of them"
            )
        seen[_fold(name)] = name


def _fold(name: str) -> str:
    """The form under which case-insensitive file systems compare names."""
    return unicodedata.normalize("NFC", name).casefold()


def _show(value: object) -> str:
    """A short JSON rendering of a value for a message."""
    text = json.dumps(value, default=lambda obj: dict(obj.pairs), ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."
