"""Read splitter.ini: the runner's settings beside the user's own sections.

The runner's sections ([logging], [results], [run], [owner]) share one file
with the user's sections, and jobs see all of it through ``config``. Built-in
defaults are read first, so a file with only the user's sections is complete.
``config_content`` is the parsed content the campaign seed is computed from (all
of it but [owner], each desk's own), and ``runner_settings`` checks and types
the runner's options.
"""

from __future__ import annotations

import configparser
import logging
import math
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from splitter.campaign.owner import (
    OWNER_SECTION,
    OwnerSettings,
    hours_or_none,
    optional_amount,
    running_jobs,
)
from splitter.errors import ConfigError

__all__ = [
    "CONFIG_FILE",
    "DEFAULTS_INI",
    "RESERVED_COLUMNS",
    "RUNNER_SECTIONS",
    "RunnerSettings",
    "config_content",
    "load_config",
    "parse_config",
    "parse_filesize",
    "read_config_text",
    "runner_settings",
]

CONFIG_FILE = "splitter.ini"
RUNNER_SECTIONS = ("logging", "results", "run", OWNER_SECTION)
# The results file's own columns (splitter.store.rowformat's RESERVED, which
# this stage cannot import): a job column of the same name is refused.
RESERVED_COLUMNS = (
    "job_id", "machine", "status", "start_time", "duration", "error", "job_key", "input", "origin",
    "extra",
)  # fmt: skip

DEFAULTS_INI = """\
[logging]
level = INFO
format = %(asctime)s %(machine)s %(processName)s %(levelname)s %(message)s
max_file_size = 64MiB
per_job = false

[results]
columns =
compression_level = 3

[run]
seed = 0
nice = 10
progress_interval = 30
job_timeout = 0
flush_interval = 1.0
pin_cores = false
enforce_mem = false

[owner]
max_load =
idle_minutes =
hours =
grace = 60
running_jobs = stop
check_interval = 5
"""

_T = TypeVar("_T")
_SIZE = re.compile(
    r"\s*(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(?:(?P<prefix>[kmgtp])(?P<i>i?))?(?P<b>b?)\s*",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_FIELD = re.compile(r"%\(([^)]*)\)")
_LEVELS = {
    name: logging.getLevelNamesMapping()[name]
    for name in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
}


@dataclass(frozen=True)
class RunnerSettings:
    """The runner's options from splitter.ini, checked and typed."""

    log_level: int
    log_format: str
    max_log_size: int
    per_job_logs: bool
    columns: tuple[str, ...] | None
    compression_level: int
    nice: int
    progress_interval: float
    job_timeout: float | None
    flush_interval: float
    pin_cores: bool
    enforce_mem: bool
    seed: int = 0
    owner: OwnerSettings = field(default_factory=OwnerSettings)


def parse_filesize(text: str) -> int:
    """Bytes in a size like ``512``, ``64k``, ``64KiB``, ``64kB``, ``1.5G`` or ``100gb``.

    A unit letter alone or followed by ``iB`` counts in 1024s; followed by ``B``
    alone it counts in 1000s. Case and spaces do not matter; fractions of a
    byte are floored.
    """
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a size; write a number of bytes with an optional unit, like "
            "512, 64k, 64KiB, 64kB or 1.5G (k, m, g, t, p alone or with iB count in 1024s, "
            "with B alone in 1000s)"
        )
    prefix = match["prefix"]
    if prefix is None:
        factor = 1
    else:
        power = "kmgtp".index(prefix.lower()) + 1
        decimal = bool(match["b"]) and not match["i"]
        factor = (1000 if decimal else 1024) ** power
    return math.floor(Fraction(match["number"]) * factor)


def read_config_text(path: Path) -> str | None:
    """A config file's text (UTF-8, BOM tolerated), or None when it does not exist."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ConfigError(
            f"{path} cannot be read ({error.strerror}); check that it is a readable file"
        ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte {error.start} is invalid); save it as UTF-8"
        ) from None


def parse_config(text: str, source: str) -> configparser.ConfigParser:
    """Parse splitter.ini text over the built-in defaults; ``source`` names the file."""
    parser = _new_parser()
    parser.read_string(DEFAULTS_INI, source="<built-in defaults>")
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    try:
        parser.read_string("\n".join(lines), source=source)
    except configparser.DuplicateSectionError as error:
        raise ConfigError(
            f"{source}: line {error.lineno} opens [{error.section}] a second time; "
            f"merge the two [{error.section}] sections into one"
        ) from None
    except configparser.DuplicateOptionError as error:
        raise ConfigError(
            f"{source}: line {error.lineno} sets [{error.section}] {error.option} a second "
            f"time; keep only one {error.option} line"
        ) from None
    except configparser.MissingSectionHeaderError as error:
        raise ConfigError(
            f"{source}: line {error.lineno} ({error.line.strip()!r}) comes before any "
            "[section] header; put it under a section such as [job]"
        ) from None
    except configparser.ParsingError as error:
        lineno = error.errors[0][0]
        raise ConfigError(
            f"{source}: line {lineno} ({lines[lineno - 1].strip()!r}) is neither "
            "'option = value' nor a [section] header; fix or remove it"
        ) from None
    return parser


def load_config(path: Path) -> configparser.ConfigParser:
    """Read splitter.ini; a missing file means the built-in defaults alone."""
    text = read_config_text(path)
    return parse_config("" if text is None else text, str(path))


def config_content(parser: configparser.ConfigParser) -> dict[str, dict[str, str]]:
    """Every section's options and raw values, sorted: what the campaign seed depends on.

    Comments, spacing, line endings and order do not show here; every value
    does, including the defaults filled in and a non-empty [DEFAULT] section,
    except [owner]: when this desk lends its cores never changes a result, so
    each host may keep its own policy and still share the plan's digest.
    """
    content = {
        section: {option: parser.get(section, option) for option in parser.options(section)}
        for section in parser.sections()
        if section != OWNER_SECTION
    }
    if parser.defaults():
        content[parser.default_section] = dict(parser.defaults())
    return {section: dict(sorted(content[section].items())) for section in sorted(content)}


def runner_settings(parser: configparser.ConfigParser, source: str) -> RunnerSettings:
    """Check and type the runner's options; a bad or unknown one is a ConfigError."""
    _reject_unknown(parser, source)

    def read(section: str, option: str, convert: Callable[[str], _T], example: str) -> _T:
        raw = parser.get(section, option)
        try:
            return convert(raw)
        except ValueError as forms:  # the converters name the forms they accept
            raise ConfigError(
                f"{source}: [{section}] {option} = {raw!r} is not {forms}; "
                f"write e.g. {option} = {example}"
            ) from None

    return RunnerSettings(
        log_level=read("logging", "level", _log_level, "INFO"),
        log_format=read("logging", "format", _log_format, "%(levelname)s %(message)s"),
        max_log_size=read("logging", "max_file_size", _size, "64MiB"),
        per_job_logs=read("logging", "per_job", _boolean, "false"),
        columns=read("results", "columns", _columns, "alpha, beta, score"),
        compression_level=read("results", "compression_level", _whole(1, 19), "3"),
        nice=read("run", "nice", _whole(0, 19), "10"),
        progress_interval=read("run", "progress_interval", _seconds(), "30"),
        job_timeout=read("run", "job_timeout", _timeout, "3600"),
        flush_interval=read("run", "flush_interval", _seconds(most=1.0), "1.0"),
        pin_cores=read("run", "pin_cores", _boolean, "false"),
        enforce_mem=read("run", "enforce_mem", _boolean, "false"),
        seed=read("run", "seed", _whole(0, 2**64 - 1), "1"),
        owner=OwnerSettings(
            max_load=read("owner", "max_load", optional_amount(_amount("cores")), "2"),
            idle_minutes=read("owner", "idle_minutes", optional_amount(_amount("minutes")), "15"),
            hours=read("owner", "hours", hours_or_none, "19:00-07:00"),
            grace=read("owner", "grace", _grace, "60"),
            running_jobs=read("owner", "running_jobs", running_jobs, "stop"),
            check_interval=read("owner", "check_interval", _seconds(), "5"),
        ),
    )


def _reject_unknown(parser: configparser.ConfigParser, source: str) -> None:
    """Runner sections take only known options, so a typo cannot pass silently."""
    for section in parser.sections():
        if section.lower() in RUNNER_SECTIONS and section not in RUNNER_SECTIONS:
            raise ConfigError(
                f"{source}: section [{section}] looks like the runner's [{section.lower()}], "
                f"but section names are case-sensitive; write [{section.lower()}]"
            )
    inherited = parser.defaults()
    defaults = parse_config("", "<built-in defaults>")
    for section in RUNNER_SECTIONS:
        known = defaults.options(section)
        for option in parser.options(section):
            if option not in known and option not in inherited:
                raise ConfigError(
                    f"{source}: [{section}] has no option {option!r} (known: "
                    f"{', '.join(known)}); fix the spelling or move it to a section of your own"
                )


def _new_parser() -> configparser.ConfigParser:
    return configparser.ConfigParser(
        interpolation=None,
        inline_comment_prefixes=(";", "#"),
        converters={"filesize": parse_filesize},
    )


# Runner option converters: each raises ValueError naming the forms it accepts.


def _log_level(raw: str) -> int:
    level = _LEVELS.get(raw.upper())
    if level is None:
        raise ValueError(f"one of {', '.join(_LEVELS)}")
    return level


def _log_format(raw: str) -> str:
    try:
        logging.Formatter(raw, validate=True)  # needs at least one %(name)s field
        # A stand-in record whose every field is 0, which every %-conversion takes,
        # catches what validate lets through, like a stray '%'.
        raw % defaultdict(int)
    except (TypeError, ValueError):
        raise ValueError("a logging format with %(name)s fields") from None
    unknown = [name for name in _FIELD.findall(raw) if name not in _record_fields()]
    if unknown:
        # Else every record fails to format at run time, and the log stays empty.
        raise ValueError(
            f"a logging format of log record fields (there is no %({unknown[0]})s; known: "
            "asctime, machine, levelname, name, message, processName, ...)"
        )
    return raw


@lru_cache(maxsize=1)
def _record_fields() -> frozenset[str]:
    """The fields every record has when formatted: LogRecord's, ours, and those format adds."""
    record = logging.LogRecord("splitter", logging.INFO, __file__, 1, "", None, None)
    return frozenset((*record.__dict__, "message", "asctime", "machine"))


def _size(raw: str) -> int:
    try:
        size = parse_filesize(raw)
    except ValueError:
        size = 0
    if size <= 0:
        raise ValueError("a size above 0, like 64MiB, 512k or 1G")
    return size


def _boolean(raw: str) -> bool:
    states = configparser.ConfigParser.BOOLEAN_STATES
    if raw.lower() not in states:
        raise ValueError("true or false (or yes/no, on/off, 1/0)")
    return states[raw.lower()]


def _columns(raw: str) -> tuple[str, ...] | None:
    names = tuple(name.strip() for name in raw.split(",") if name.strip())
    if len(set(names)) != len(names):
        raise ValueError("a comma-separated list of distinct column names")
    taken = [name for name in names if name in RESERVED_COLUMNS]
    if taken:
        raise ValueError(
            f"a list of the job's own column names ({taken[0]!r} is one of splitter's: "
            f"{', '.join(RESERVED_COLUMNS)})"
        )
    return names or None


def _whole(low: int, high: int) -> Callable[[str], int]:
    def convert(raw: str) -> int:
        if not (raw.isascii() and raw.isdigit() and low <= int(raw) <= high):
            raise ValueError(f"a whole number from {low} to {high}")
        return int(raw)

    return convert


def _number(raw: str) -> float | None:
    """A plain decimal number; None for anything else, 'nan', 'inf', '1e3' and '1_0' too."""
    if _NUMBER.fullmatch(raw) and math.isfinite(float(raw)):
        return float(raw)
    return None


def _seconds(most: float = math.inf) -> Callable[[str], float]:
    forms = "a number of seconds above 0" + (f" and at most {most:g}" if most < math.inf else "")

    def convert(raw: str) -> float:
        seconds = _number(raw)
        if seconds is None or not 0 < seconds <= most:
            raise ValueError(forms)
        return seconds

    return convert


def _amount(unit: str) -> Callable[[str], float]:
    def convert(raw: str) -> float:
        amount = _number(raw)
        if amount is None or amount <= 0:
            raise ValueError(f"a number of {unit} above 0")
        return amount

    return convert


def _grace(raw: str) -> float:
    seconds = _number(raw)
    if seconds is None:
        raise ValueError("a number of seconds, or 0 to continue as soon as the rules clear")
    return seconds


def _timeout(raw: str) -> float | None:
    seconds = _number(raw)
    if seconds is None:
        raise ValueError("a number of seconds, or 0 for no timeout")
    return seconds or None
