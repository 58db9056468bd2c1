"""Tests for splitter.campaign.config: sizes, parsing, the digest's content and runner settings."""

from __future__ import annotations

import logging
import random
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from splitter.campaign.config import (
    RESERVED_COLUMNS,
    RunnerSettings,
    config_content,
    load_config,
    parse_config,
    parse_filesize,
    runner_settings,
)
from splitter.errors import ConfigError
from splitter.store.rowformat import RESERVED

SOURCE = "configs/splitter.ini"
DEFAULT_SETTINGS = RunnerSettings(
    log_level=logging.INFO,
    log_format="%(asctime)s %(machine)s %(processName)s %(levelname)s %(message)s",
    max_log_size=64 * 1024**2,
    per_job_logs=False,
    columns=None,
    compression_level=3,
    nice=10,
    progress_interval=30.0,
    job_timeout=None,
    flush_interval=1.0,
    pin_cores=False,
    enforce_mem=False,
)
DEFAULT_CONTENT = {
    "logging": {
        "format": "%(asctime)s %(machine)s %(processName)s %(levelname)s %(message)s",
        "level": "INFO",
        "max_file_size": "64MiB",
        "per_job": "false",
    },
    "results": {"columns": "", "compression_level": "3"},
    "run": {
        "flush_interval": "1.0",
        "job_timeout": "0",
        "enforce_mem": "false",
        "nice": "10",
        "pin_cores": "false",
        "progress_interval": "30",
        "seed": "0",
    },
}
SIZE_FORMS = (
    "write a number of bytes with an optional unit, like 512, 64k, 64KiB, 64kB or 1.5G "
    "(k, m, g, t, p alone or with iB count in 1024s, with B alone in 1000s)"
)


def settings_of(text: str) -> RunnerSettings:
    return runner_settings(parse_config(text, SOURCE), SOURCE)


def config_error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        settings_of(text)
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512", 512),
        ("0", 0),
        ("512b", 512),
        ("512B", 512),
        ("64k", 65536),
        ("64K", 65536),
        ("64KiB", 65536),
        ("64kib", 65536),
        ("64Ki", 65536),
        ("64kB", 64000),
        ("64 kB", 64000),
        (" 64 k ", 65536),
        ("64MiB", 64 * 1024**2),
        ("1.5G", 1610612736),
        ("1.5gb", 1_500_000_000),
        ("2TiB", 2 * 1024**4),
        ("3p", 3 * 1024**5),
        ("100gb", 100_000_000_000),
        ("0.5k", 512),
        (".5k", 512),
        ("1.", 1),
        ("1.9", 1),
        ("0.0001k", 0),
        ("1.1PB", 1_100_000_000_000_000),
    ],
)
def test_filesize_is_parsed_exactly(text: str, size: int) -> None:
    assert parse_filesize(text) == size


@pytest.mark.parametrize(
    "text", ["", " ", "-1", "-1k", "k", "64x", "64 kbit", "64iB", "1e3", "1,5G", "1_0", "64 k b"]
)
def test_filesize_garbage_is_rejected_listing_the_forms(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_filesize(text)
    assert str(caught.value) == f"{text!r} is not a size; {SIZE_FORMS}"


units = st.sampled_from(
    [("", 1), ("b", 1)]
    + [(letter, 1024**power) for power, letter in enumerate("kmgtp", 1)]
    + [(letter + "ib", 1024**power) for power, letter in enumerate("kmgtp", 1)]
    + [(letter + "b", 1000**power) for power, letter in enumerate("kmgtp", 1)]
)


@given(
    st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False),
    units,
    st.booleans(),
    st.sampled_from(["", " "]),
)
def test_filesize_is_the_exact_floor_in_any_case_and_spacing(
    number: Decimal, unit: tuple[str, int], upper: bool, space: str
) -> None:
    suffix, factor = unit
    number = abs(number)  # hypothesis may draw -0.0000
    text = f"{number}{space}{suffix.upper() if upper else suffix}"
    assert parse_filesize(text) == int(number * factor)


def test_config_exposes_the_filesize_converter() -> None:
    config = parse_config("[job]\nbuffer = 1.5G\n", SOURCE)
    assert config.getfilesize("job", "buffer") == 1610612736  # type: ignore[attr-defined]
    assert config.getfilesize("logging", "max_file_size") == 64 * 1024**2  # type: ignore[attr-defined]


def test_empty_file_gives_the_default_settings() -> None:
    assert settings_of("") == DEFAULT_SETTINGS


def test_file_with_only_user_sections_gets_the_runner_defaults() -> None:
    config = parse_config("[job]\nsteps = 100\n", SOURCE)
    assert config_content(config) == {**DEFAULT_CONTENT, "job": {"steps": "100"}}
    assert runner_settings(config, SOURCE) == DEFAULT_SETTINGS


def test_runner_options_override_their_defaults_one_by_one() -> None:
    text = (
        "[logging]\nlevel = debug\nformat = %(levelname)s %(message)s\nmax_file_size = 1k\n"
        "per_job = yes\n[results]\ncolumns = alpha , beta,, score,\ncompression_level = 19\n"
        "[run]\nnice = 0\nprogress_interval = 2.5\njob_timeout = 600\nflush_interval = .25\n"
        "pin_cores = on\nenforce_mem = yes\n"
    )
    assert settings_of(text) == RunnerSettings(
        log_level=logging.DEBUG,
        log_format="%(levelname)s %(message)s",
        max_log_size=1024,
        per_job_logs=True,
        columns=("alpha", "beta", "score"),
        compression_level=19,
        nice=0,
        progress_interval=2.5,
        job_timeout=600.0,
        flush_interval=0.25,
        pin_cores=True,
        enforce_mem=True,
    )


NO_FOO = (
    "log record fields (there is no %(foo)s; known: asctime, machine, levelname, name, message,"
    " processName, ...)"
)
OURS = "job_id, machine, status, start_time, duration, error, job_key, input, origin, extra"


def test_the_reserved_columns_are_the_results_files_own() -> None:
    assert set(RESERVED_COLUMNS) == RESERVED


def test_a_format_of_record_fields_and_machine_is_accepted() -> None:
    text = "[logging]\nformat = %(asctime)s %(machine)s %(lineno)d %(funcName)s %(message)s\n"
    settings = runner_settings(parse_config(text, SOURCE), SOURCE)
    assert settings.log_format == "%(asctime)s %(machine)s %(lineno)d %(funcName)s %(message)s"


@pytest.mark.parametrize(
    ("section", "option", "value", "forms", "example"),
    [
        ("logging", "level", "verbose", "one of DEBUG, INFO, WARNING, ERROR, CRITICAL", "INFO"),
        ("logging", "format", "plain", "a logging format with %(name)s fields", None),
        ("logging", "format", "100% %(message)s", "a logging format with %(name)s fields", None),
        ("logging", "format", "%(message)", "a logging format with %(name)s fields", None),
        ("logging", "format", "%(foo)s", f"a logging format of {NO_FOO}", None),
        ("logging", "max_file_size", "0", "a size above 0, like 64MiB, 512k or 1G", "64MiB"),
        ("logging", "max_file_size", "lots", "a size above 0, like 64MiB, 512k or 1G", "64MiB"),
        ("logging", "per_job", "maybe", "true or false (or yes/no, on/off, 1/0)", "false"),
        ("run", "pin_cores", "maybe", "true or false (or yes/no, on/off, 1/0)", "false"),
        ("run", "enforce_mem", "2", "true or false (or yes/no, on/off, 1/0)", "false"),
        (
            "results",
            "columns",
            "a, b, a",
            "a comma-separated list of distinct column names",
            "alpha, beta, score",
        ),
        (
            "results",
            "columns",
            "score, job_id",
            f"a list of the job's own column names ('job_id' is one of splitter's: {OURS})",
            "alpha, beta, score",
        ),
        ("results", "compression_level", "0", "a whole number from 1 to 19", "3"),
        ("results", "compression_level", "20", "a whole number from 1 to 19", "3"),
        ("run", "nice", "high", "a whole number from 0 to 19", "10"),
        ("run", "nice", "-5", "a whole number from 0 to 19", "10"),
        ("run", "nice", "2.0", "a whole number from 0 to 19", "10"),
        ("run", "nice", "1_0", "a whole number from 0 to 19", "10"),
        ("run", "progress_interval", "0", "a number of seconds above 0", "30"),
        ("run", "progress_interval", "inf", "a number of seconds above 0", "30"),
        ("run", "progress_interval", "9" * 400, "a number of seconds above 0", "30"),
        ("run", "job_timeout", "-1", "a number of seconds, or 0 for no timeout", "3600"),
        ("run", "job_timeout", "nan", "a number of seconds, or 0 for no timeout", "3600"),
        ("run", "flush_interval", "0", "a number of seconds above 0 and at most 1", "1.0"),
        ("run", "flush_interval", "1.5", "a number of seconds above 0 and at most 1", "1.0"),
        ("run", "flush_interval", "1e-1", "a number of seconds above 0 and at most 1", "1.0"),
    ],
)
def test_bad_runner_value_names_file_option_value_and_fix(
    section: str, option: str, value: str, forms: str, example: str | None
) -> None:
    example = example or "%(levelname)s %(message)s"
    assert config_error(f"[{section}]\n{option} = {value}\n") == (
        f"{SOURCE}: [{section}] {option} = {value!r} is not {forms}; "
        f"write e.g. {option} = {example}"
    )


def test_bad_nice_message_reads_as_documented() -> None:
    assert config_error("[run]\nnice = high\n") == (
        "configs/splitter.ini: [run] nice = 'high' is not a whole number from 0 to 19; "
        "write e.g. nice = 10"
    )


@pytest.mark.parametrize("level", ["debug", "Warning", "ERROR", "critical"])
def test_log_level_names_ignore_case(level: str) -> None:
    assert settings_of(f"[logging]\nlevel = {level}\n").log_level == getattr(
        logging, level.upper()
    )


def test_job_timeout_of_zero_means_none_and_fractions_are_kept() -> None:
    assert settings_of("[run]\njob_timeout = 0.0\n").job_timeout is None
    assert settings_of("[run]\njob_timeout = 2.5\n").job_timeout == 2.5


def test_unknown_runner_option_is_rejected_listing_the_known_ones() -> None:
    assert config_error("[run]\nnicety = 5\n") == (
        f"{SOURCE}: [run] has no option 'nicety' (known: seed, nice, progress_interval, "
        "job_timeout, flush_interval, pin_cores, enforce_mem); fix the spelling or move it to a"
        " section of your own"
    )


def test_runner_section_name_in_other_case_is_rejected() -> None:
    assert config_error("[Run]\nnice = 5\n") == (
        f"{SOURCE}: section [Run] looks like the runner's [run], "
        "but section names are case-sensitive; write [run]"
    )


def test_default_section_options_are_not_unknown_runner_options() -> None:
    config = parse_config("[DEFAULT]\nowner = lab\n[job]\nsteps = 1\n", SOURCE)
    assert runner_settings(config, SOURCE) == DEFAULT_SETTINGS
    assert config_content(config)["DEFAULT"] == {"owner": "lab"}
    assert config_content(config)["job"] == {"owner": "lab", "steps": "1"}


def test_duplicate_section_names_its_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("[job]\na = 1\n\n[job]\nb = 2\n", SOURCE)
    assert str(caught.value) == (
        f"{SOURCE}: line 4 opens [job] a second time; merge the two [job] sections into one"
    )


def test_duplicate_option_names_its_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("[run]\nnice = 1\nNice = 2\n", SOURCE)
    assert str(caught.value) == (
        f"{SOURCE}: line 3 sets [run] nice a second time; keep only one nice line"
    )


def test_option_before_any_section_names_its_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("# settings\nsteps = 100\n", SOURCE)
    assert str(caught.value) == (
        f"{SOURCE}: line 2 ('steps = 100') comes before any [section] header; "
        "put it under a section such as [job]"
    )


def test_line_that_is_no_option_names_its_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("[job]\r\nsteps = 100\r\njust words\r\n", SOURCE)
    assert str(caught.value) == (
        f"{SOURCE}: line 3 ('just words') is neither 'option = value' nor a [section] header; "
        "fix or remove it"
    )


def test_content_ignores_comments_spacing_line_endings_and_order() -> None:
    plain = "[job]\nsteps = 100\nname = x\n[run]\nnice = 5\n"
    noisy = (
        "\ufeff; comment\r\n[run]\r\n# why\r\nnice=5   ; inline\r\n\r\n"
        "[job]\r\nname =   x\r\n  \r\nsteps: 100 # inline\r\n"
    )
    assert config_content(parse_config(noisy, SOURCE)) == config_content(
        parse_config(plain, SOURCE)
    )


def test_content_is_sorted_by_section_and_option() -> None:
    content = config_content(parse_config("[zeta]\nb = 1\na = 2\n[alpha]\nx = 3\n", SOURCE))
    assert list(content) == ["alpha", "logging", "results", "run", "zeta"]
    assert list(content["zeta"]) == ["a", "b"]


def test_content_leaves_out_an_empty_default_section() -> None:
    assert config_content(parse_config("", SOURCE)) == DEFAULT_CONTENT


sections = st.dictionaries(
    st.sampled_from(["job", "sweep", "run"]),
    st.dictionaries(st.sampled_from(["a", "b", "nice"]), st.integers(0, 19), min_size=1),
    min_size=1,
)


@given(sections, st.randoms())
def test_content_does_not_depend_on_order(
    values: dict[str, dict[str, int]], rng: random.Random
) -> None:
    def render(order: list[str]) -> str:
        return "".join(
            f"[{section}]\n"
            + "".join(f"{key} = {value}\n" for key, value in values[section].items())
            for section in order
        )

    shuffled = list(values)
    rng.shuffle(shuffled)
    assert config_content(parse_config(render(list(values)), SOURCE)) == config_content(
        parse_config(render(shuffled), SOURCE)
    )


@given(st.sampled_from(["steps = 101", "steps = 100.0", "Steps = 100x", "other = 100"]))
def test_any_value_change_changes_the_content(line: str) -> None:
    base = config_content(parse_config("[job]\nsteps = 100\n", SOURCE))
    assert config_content(parse_config(f"[job]\n{line}\n", SOURCE)) != base


def test_missing_config_file_means_defaults_only(tmp_path: Path) -> None:
    config = load_config(tmp_path / "splitter.ini")
    assert config_content(config) == DEFAULT_CONTENT


def test_config_file_with_bom_and_crlf_loads(tmp_path: Path) -> None:
    path = tmp_path / "splitter.ini"
    path.write_bytes(b"\xef\xbb\xbf[job]\r\nsteps = 100\r\n")
    assert config_content(load_config(path)) == {**DEFAULT_CONTENT, "job": {"steps": "100"}}


def test_undecodable_config_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "splitter.ini"
    path.write_bytes(b"[job]\nname = b\xfcro\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path} is not UTF-8 text (byte 14 is invalid); save it as UTF-8"


def test_config_path_that_is_a_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path} cannot be read (Is a directory); check that it is a readable file"
    )


def test_load_config_names_the_file_in_parse_errors(tmp_path: Path) -> None:
    path = tmp_path / "splitter.ini"
    path.write_text("steps = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: line 1 ")
