"""Expand a task file's directives: disBatch's ``#DISBATCH`` lines and ``#SPLITTER NEEDS``.

Pure: the file's text in, its tasks out. A line is one of

    #DISBATCH PREFIX text      text put before each later task (a later one replaces it)
    #DISBATCH SUFFIX text      text put after each later task
    #DISBATCH REPEAT n [start s] [step k] [command]
                               n tasks of PREFIX + command + SUFFIX, repeat index s, s+k, ...
    #DISBATCH BARRIER [CHECK]  a phase boundary (CHECK: stop there after a failure)
    #DISBATCH PERENGINE START|STOP command
                               run on each host before its first task / after its last
    #SPLITTER NEEDS name=value ...
                               what the later tasks need (``NEEDS`` alone: the default)
    # anything / a blank line  a comment
    anything else              a task: PREFIX + line + SUFFIX

as disBatch reads them: ``#DISBATCH`` must start the line in capitals, a
directive's text is everything after the keyword and one space (so
``PREFIX ( cd run ; `` keeps its trailing space), PREFIX and SUFFIX also wrap
the PERENGINE commands, and a task id (``DISBATCH_TASKID``) counts the tasks,
repeats included, and the barriers. Unlike disBatch, an unknown directive or
a PERENGINE after the first task is refused with its line (disBatch logs it
and goes on, or stops reading), keywords are case-insensitive also for
BARRIER and CHECK, a bare ``PREFIX``/``SUFFIX`` resets it to empty, and
REPEAT takes ``start`` and ``step`` in either order, negative too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from splitter.errors import UsageError

__all__ = [
    "MAX_TASKS",
    "Barrier",
    "EngineCommand",
    "Needs",
    "Task",
    "TaskFile",
    "expand",
    "task_key",
]

MAX_TASKS = 10_000_000
"""The most tasks a task file may expand to (a REPEAT with a typo must not fill memory)."""

Needs = Mapping[str, str | tuple[str, ...]]
"""A task's needs as written: ``{"cores": "4", "mem": "8G", "tags": ("openfoam",)}``."""

_DIRECTIVE = re.compile(r"#DISBATCH(?:[ \t]+(?P<keyword>[A-Za-z]+))?(?P<rest>.*)")
_SPLITTER = re.compile(r"#SPLITTER(?:[ \t]+(?P<keyword>[A-Za-z]+))?(?P<rest>.*)")
_REPEAT = re.compile(
    r"\s+(?P<count>[0-9]+)(?P<options>(?:\s+(?:start|step)\s+-?[0-9]+)*)"
    r"(?: (?P<command>.+))?\s*",
    re.IGNORECASE,
)
_OPTION = re.compile(r"(start|step)\s+(-?[0-9]+)", re.IGNORECASE)
_PERENGINE = re.compile(r"\s+(?P<when>START|STOP) (?P<command>.*\S.*)", re.IGNORECASE)
_NEED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>\S+)")
_NAME = re.compile(r"[A-Za-z0-9_.+-]+")
_KNOWN = "PREFIX, SUFFIX, REPEAT, BARRIER [CHECK], PERENGINE START|STOP"


@dataclass(frozen=True)
class Task:
    """One task as it runs: the pool item of a task campaign (picklable, sent to workers).

    ``command`` is the text as run (PREFIX + line + SUFFIX); bytes of a file
    that are not UTF-8 are in it as surrogate escapes, so it encodes back to
    them exactly (``os.fsencode``, as posix_spawn does).
    """

    command: str
    line: int
    """The 1-based line of the task file (``DISBATCH_STREAM_INDEX``)."""
    repeat_index: int = -1
    """Its index in a REPEAT (start, start + step, ...); -1 outside one."""
    task_id: int = 0
    """disBatch's task id: 0-based, counting the tasks before it, repeats and barriers."""
    phase: int = 0
    """How many barriers come before it."""
    needs: Needs = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Barrier:
    """A ``#DISBATCH BARRIER``: phase ``index + 1`` starts after it."""

    line: int
    task_id: int
    check: bool


@dataclass(frozen=True)
class EngineCommand:
    """A ``PERENGINE`` command, PREFIX and SUFFIX applied, with its line."""

    command: str
    line: int


@dataclass(frozen=True)
class TaskFile:
    """A task file expanded: its tasks, barriers and per-host commands."""

    tasks: tuple[Task, ...]
    barriers: tuple[Barrier, ...] = ()
    start: tuple[EngineCommand, ...] = ()
    stop: tuple[EngineCommand, ...] = ()

    @property
    def phase_checks(self) -> tuple[bool, ...]:
        """Per phase: whether a BARRIER CHECK opens it (phase 0 never)."""
        return (False, *(barrier.check for barrier in self.barriers))


def task_key(task: Task) -> tuple[str | bytes, int]:
    """A task's identity: its command as run (bytes where not UTF-8) and its repeat index."""
    try:
        task.command.encode("utf-8")
    except UnicodeEncodeError:
        return task.command.encode("utf-8", "surrogateescape"), task.repeat_index
    return task.command, task.repeat_index


def expand(text: str, source: str) -> TaskFile:
    """The tasks of a task file's ``text`` (decoded with surrogateescape), directives applied.

    ``source`` names the file in errors: a UsageError naming the line.
    """
    state = _State(source)
    for number, line in _lines(text):
        if line.startswith("#DISBATCH"):
            state.disbatch(number, line)
        elif line.startswith("#SPLITTER"):
            state.splitter(number, line)
        elif line.strip() and not line.lstrip().startswith("#"):
            state.add(number, -1, line)
    start, stop = state.engine
    return TaskFile(tuple(state.tasks), tuple(state.barriers), tuple(start), tuple(stop))


def _lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.removeprefix("\ufeff").split("\n"), 1):
        yield number, line.removesuffix("\r")


class _State:
    """What the lines read so far have set: PREFIX, SUFFIX, NEEDS, counters."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.prefix = self.suffix = ""
        self.needs: Needs = {}
        self.tasks: list[Task] = []
        self.barriers: list[Barrier] = []
        self.engine: tuple[list[EngineCommand], list[EngineCommand]] = ([], [])
        self.next_id = 0
        self.first_task: int | None = None

    def error(self, number: int, problem: str) -> UsageError:
        return UsageError(f"task file {self.source}: line {number}: {problem}")

    def add(self, number: int, repeat_index: int, text: str) -> None:
        self.room(number, 1)
        command = self.prefix + text + self.suffix
        task = Task(command, number, repeat_index, self.next_id, len(self.barriers), self.needs)
        self.tasks.append(task)
        self.next_id += 1
        self.began(number)

    def room(self, number: int, count: int) -> None:
        if len(self.tasks) + count > MAX_TASKS:
            raise self.error(
                number, f"the file expands to more than {MAX_TASKS:,} tasks; check its REPEAT "
                "counts, or split the campaign into several files",
            )  # fmt: skip

    def began(self, number: int) -> None:
        if self.first_task is None:
            self.first_task = number

    def disbatch(self, number: int, line: str) -> None:
        match = _DIRECTIVE.fullmatch(line)
        assert match is not None  # Every line starting with #DISBATCH matches.
        keyword, rest = (match["keyword"] or "").upper(), match["rest"]
        if keyword in ("PREFIX", "SUFFIX") and (not rest or rest.startswith(" ")):
            setattr(self, keyword.lower(), rest[1:])
        elif keyword == "REPEAT":
            self.repeat(number, rest)
        elif keyword == "BARRIER":
            self.barrier(number, rest)
        elif keyword == "PERENGINE":
            self.perengine(number, rest)
        else:
            raise self.error(
                number, f"{_shown(line)} is not a directive splitter knows (known: {_KNOWN}); "
                "fix it, or write '# ' to make the line a comment",
            )  # fmt: skip

    def repeat(self, number: int, rest: str) -> None:
        match = _REPEAT.fullmatch(rest)
        if match is None:
            raise self.error(
                number, "REPEAT needs a count, as in '#DISBATCH REPEAT 5 start 100 step 50 "
                "[command]'",
            )  # fmt: skip
        options: dict[str, int] = {}
        for name, value in _OPTION.findall(match["options"]):
            if name.lower() in options:
                raise self.error(number, f"REPEAT gives {name.lower()} twice; give it once")
            options[name.lower()] = int(value)
        index, step, count = options.get("start", 0), options.get("step", 1), int(match["count"])
        self.room(number, count)
        self.began(number)
        for _ in range(count):
            self.add(number, index, match["command"] or "")
            index += step

    def barrier(self, number: int, rest: str) -> None:
        check = rest.strip().upper() == "CHECK" and rest.startswith((" ", "\t"))
        if rest.strip() and not check:
            raise self.error(
                number, f"BARRIER takes only CHECK, not {rest.strip()!r} (disBatch's barrier "
                "key is for its key-value server, which splitter has not); remove it",
            )  # fmt: skip
        self.barriers.append(Barrier(number, self.next_id, check))
        self.next_id += 1
        self.began(number)

    def perengine(self, number: int, rest: str) -> None:
        match = _PERENGINE.fullmatch(rest)
        if match is None:
            raise self.error(
                number, "PERENGINE needs START or STOP and a command, as in '#DISBATCH "
                "PERENGINE START mkdir -p /tmp/scratch'",
            )  # fmt: skip
        if self.first_task is not None:
            raise self.error(
                number, f"PERENGINE comes after the first task (line {self.first_task}); as in "
                "disBatch, move it above every task, REPEAT and BARRIER",
            )  # fmt: skip
        command = EngineCommand(self.prefix + match["command"] + self.suffix, number)
        self.engine[match["when"].upper() == "STOP"].append(command)

    def splitter(self, number: int, line: str) -> None:
        match = _SPLITTER.fullmatch(line)
        if match is None or (match["keyword"] or "").upper() != "NEEDS":
            raise self.error(
                number, f"{_shown(line)} is not a directive splitter knows (known: #SPLITTER "
                "NEEDS name=value ...); fix it, or write '# ' to make the line a comment",
            )  # fmt: skip
        self.needs = self.parse_needs(number, match["rest"])

    def parse_needs(self, number: int, rest: str) -> Needs:
        needs: dict[str, str | tuple[str, ...]] = {}
        for token in rest.split():
            need = _NEED.fullmatch(token)
            if need is None:
                raise self.error(
                    number, f"NEEDS takes name=value words, not {_shown(token)}; write e.g. "
                    "'#SPLITTER NEEDS cores=4 gpus=1 mem=8G tags=openfoam,cuda'",
                )  # fmt: skip
            name, value = need["name"].lower(), need["value"]
            if name in needs:
                raise self.error(number, f"NEEDS gives {name} twice; give it once")
            needs[name] = value if name != "tags" else self.tags(number, value)
        return needs

    def tags(self, number: int, value: str) -> tuple[str, ...]:
        names = tuple(value.split(","))
        if not all(_NAME.fullmatch(name) for name in names):
            raise self.error(
                number, f"NEEDS tags={_shown(value)} is not a comma-separated list of names; "
                "write e.g. tags=openfoam,cuda",
            )  # fmt: skip
        return names


def _shown(text: str) -> str:
    """``text`` quoted for a message, cut to a readable length, undecodable bytes escaped."""
    cut = text if len(text) <= 60 else text[:57] + "..."
    return repr(cut.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))
