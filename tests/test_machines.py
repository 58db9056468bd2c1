"""Tests for splitter.campaign.machines: parsing, validating and finding machines."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from splitter.campaign.machines import (
    Machine,
    check_machine_name,
    find_machine,
    load_machines,
    machine_for_hostname,
    machine_name_problem,
    parse_machines,
)
from splitter.errors import ConfigError, UsageError

SOURCE = "configs/machines.json"
SHAPE = 'write it as {"name": [per_thread_perf, cores], ...}'
ALPHA = Machine("alpha", 1.0, 8)
BETA = Machine("beta", 2.5, 4)
GAMMA = Machine("gamma", 0.5, 16)


def parse_error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_machines(text, SOURCE)
    return str(caught.value)


def test_machines_keep_file_order() -> None:
    text = '{"gamma": [0.5, 16], "alpha": [1.0, 8], "beta": [2.5, 4]}'
    assert parse_machines(text, SOURCE) == (GAMMA, ALPHA, BETA)


def test_perf_is_stored_as_float_and_cores_as_int() -> None:
    (machine,) = parse_machines('{"alpha": [2, 8]}', SOURCE)
    assert type(machine.perf) is float
    assert type(machine.cores) is int
    assert machine.weight == 16.0


def test_invalid_json_names_line_and_column() -> None:
    assert parse_error('{\n  "alpha": [1.0, 8]\n  "beta": [1.0, 4]\n}') == (
        f"{SOURCE}: line 3, column 3 is not valid JSON (Expecting ',' delimiter); {SHAPE}"
    )


def test_top_level_that_is_not_an_object_is_rejected() -> None:
    assert parse_error('[["alpha", 1.0, 8]]') == (
        f'{SOURCE}: the file holds [["alpha", 1.0, 8]], but it must be a JSON object; {SHAPE}'
    )


def test_empty_object_is_rejected() -> None:
    assert (
        parse_error("{}") == f"{SOURCE}: the object lists no machines; {SHAPE} with at least one"
    )


def test_duplicate_machine_name_is_rejected() -> None:
    assert parse_error('{"alpha": [1.0, 8], "beta": [1.0, 2], "alpha": [2.0, 4]}') == (
        f"{SOURCE}: machine 'alpha' is listed twice; keep one entry per machine"
    )


def test_names_differing_only_in_case_are_rejected() -> None:
    assert parse_error('{"alpha": [1.0, 8], "Alpha": [2.0, 4]}') == (
        f"{SOURCE}: machines 'alpha' and 'Alpha' differ only in letter case, so they would "
        "share one folder on Windows and macOS; rename one of them"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("8", "8"),
        ("[1.0]", "[1.0]"),
        ("[1.0, 8, 2]", "[1.0, 8, 2]"),
        ('"fast"', '"fast"'),
    ],
)
def test_value_that_is_not_a_pair_is_rejected(value: str, shown: str) -> None:
    assert parse_error(f'{{"alpha": {value}}}') == (
        f"{SOURCE}: machine 'alpha' has {shown}, but each machine must be "
        '[per_thread_perf, cores], like [1.0, 8], or an object like {"perf": 1.0, "cores": 8}'
    )


@pytest.mark.parametrize(
    ("perf", "shown"), [("true", "true"), ('"1.5"', '"1.5"'), ("null", "null")]
)
def test_perf_that_is_not_a_number_is_rejected(perf: str, shown: str) -> None:
    assert parse_error(f'{{"alpha": [{perf}, 8]}}') == (
        f"{SOURCE}: machine 'alpha' has perf {shown}, but perf must be a number, like [1.5, 8]"
    )


@pytest.mark.parametrize(
    ("perf", "shown"),
    [
        ("0", "0"),
        ("-1.5", "-1.5"),
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("1e400", "Infinity"),
    ],
)
def test_perf_that_is_not_finite_and_positive_is_rejected(perf: str, shown: str) -> None:
    assert parse_error(f'{{"alpha": [{perf}, 8]}}') == (
        f"{SOURCE}: machine 'alpha' has perf {shown}, "
        "but perf must be a finite number above 0, like [1.5, 8]"
    )


def test_perf_integer_beyond_float_range_is_rejected() -> None:
    message = parse_error(f'{{"alpha": [{"9" * 400}, 8]}}')
    assert message == (
        f"{SOURCE}: machine 'alpha' has perf {'9' * 37}..., "
        "but perf must be a finite number above 0, like [1.5, 8]"
    )


@pytest.mark.parametrize("cores", ["2.5", "2.0", "true", "0", "-1", '"8"', "null"])
def test_cores_that_are_not_a_positive_whole_number_are_rejected(cores: str) -> None:
    assert parse_error(f'{{"beta": [1.0, {cores}]}}') == (
        f"{SOURCE}: machine 'beta' has cores {cores}, "
        "but cores must be a positive whole number, like [1.0, 8]"
    )


@pytest.mark.parametrize(("perf", "cores"), [("1e308", "10"), ("1.0", "9" * 400)])
def test_weight_beyond_float_range_is_rejected(perf: str, cores: str) -> None:
    assert parse_error(f'{{"alpha": [{perf}, {cores}]}}') == (
        f"{SOURCE}: machine 'alpha' has perf x cores too large to compute with; "
        "give perf relative to your slowest machine, like [1.0, 8]"
    )


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "has an empty name; give every machine a name, like 'lab-1'"),
        ("   ", "has a name with leading or trailing whitespace; remove the spaces"),
        (" lab", "has a name with leading or trailing whitespace; remove the spaces"),
        ("lab\t", "has a name with leading or trailing whitespace; remove the spaces"),
        ("a/b", "has a name with '/' or '\\', but names become folder names; use '-' instead"),
        ("a\\b", "has a name with '/' or '\\', but names become folder names; use '-' instead"),
        (".", "has a name that cannot be a folder name; pick another name, like 'lab-1'"),
        ("..", "has a name that cannot be a folder name; pick another name, like 'lab-1'"),
        (
            "lab\n1",
            "has a name with a control character; remove it, since names become folder names",
        ),
        (
            "lab\x7f",
            "has a name with a control character; remove it, since names become folder names",
        ),
        ("a<b", "has a name with '<', which Windows forbids in folder names; use '-'"),
        ("a>b", "has a name with '>', which Windows forbids in folder names; use '-'"),
        ("c:", "has a name with ':', which Windows forbids in folder names; use '-'"),
        ('a"b', "has a name with '\"', which Windows forbids in folder names; use '-'"),
        ("a|b", "has a name with '|', which Windows forbids in folder names; use '-'"),
        ("a?", "has a name with '?', which Windows forbids in folder names; use '-'"),
        ("a*", "has a name with '*', which Windows forbids in folder names; use '-'"),
        (
            "lab.",
            "has a name ending in '.', which Windows drops from folder names; remove the dot",
        ),
        ("CON", "has a name Windows reserves for the device CON; rename it, like 'pc-CON'"),
        ("nul", "has a name Windows reserves for the device NUL; rename it, like 'pc-nul'"),
        (
            "Com1.txt",
            "has a name Windows reserves for the device COM1; rename it, like 'pc-Com1.txt'",
        ),
        ("lpt9", "has a name Windows reserves for the device LPT9; rename it, like 'pc-lpt9'"),
        (
            "x" * 101,
            "has a name 101 characters long; shorten it to at most 100, "
            "since names become folder names",
        ),
        (
            "\U0001d518" * 64,
            "has a name 256 bytes long in UTF-8; shorten it to at most 255 bytes, "
            "since names become folder names",
        ),
        (
            "lab\ud800",
            "has a name with a lone surrogate escape like \\ud800, which is not text; remove it",
        ),
    ],
)
def test_name_unusable_as_folder_is_rejected(name: str, problem: str) -> None:
    assert machine_name_problem(name) == problem
    assert parse_error(json.dumps({name: [1.0, 8]})) == f"{SOURCE}: machine {name!r} {problem}"


@pytest.mark.parametrize("name", ["lab-1", "x" * 100, "COM0", "console", "con-1", "büro", "a.b"])
def test_ordinary_names_are_accepted(name: str) -> None:
    assert machine_name_problem(name) is None


@given(st.text(max_size=12))
def test_every_accepted_name_can_be_made_a_folder(name: str) -> None:
    if machine_name_problem(name) is not None:
        return
    with tempfile.TemporaryDirectory() as parent:
        folder = Path(parent) / name
        folder.mkdir()
        assert os.listdir(parent) == [name]


machine_entries = st.lists(
    st.tuples(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=10),
        st.floats(min_value=1e-6, max_value=1e6),
        st.integers(min_value=1, max_value=512),
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda entry: entry[0],
)


@given(machine_entries)
def test_written_machines_parse_back_in_order(entries: list[tuple[str, float, int]]) -> None:
    text = json.dumps({name: [perf, cores] for name, perf, cores in entries})
    assert parse_machines(text, SOURCE) == tuple(Machine(*entry) for entry in entries)


def test_load_machines_tolerates_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "machines.json"
    path.write_bytes(b'\xef\xbb\xbf{"alpha": [1.0, 8]}\r\n')
    assert load_machines(path) == (ALPHA,)


def test_load_machines_reports_a_missing_file_with_the_init_command(tmp_path: Path) -> None:
    path = tmp_path / "machines.json"
    with pytest.raises(ConfigError) as caught:
        load_machines(path)
    assert str(caught.value) == (
        f"{path} does not exist; `splitter init --configs {tmp_path}` writes a template"
    )


def test_load_machines_reports_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "machines.json"
    path.write_bytes(b'{"b\xfcro": [1.0, 8]}')
    with pytest.raises(ConfigError) as caught:
        load_machines(path)
    assert str(caught.value) == f"{path} is not UTF-8 text (byte 3 is invalid); save it as UTF-8"


def test_load_machines_names_the_file_in_validation_errors(tmp_path: Path) -> None:
    path = tmp_path / "machines.json"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_machines(path)
    assert str(caught.value) == f"{path}: the object lists no machines; {SHAPE} with at least one"


def test_find_machine_returns_the_named_entry() -> None:
    assert find_machine((ALPHA, BETA, GAMMA), "beta", SOURCE) is BETA


def test_find_machine_lists_the_known_names_for_an_unknown_one() -> None:
    with pytest.raises(UsageError) as caught:
        find_machine((ALPHA, BETA, GAMMA), "delta", SOURCE)
    assert str(caught.value) == (
        "machine 'delta' is not in configs/machines.json (known: alpha, beta, gamma); "
        "pass --machine with one of them"
    )


def test_find_machine_is_case_sensitive() -> None:
    with pytest.raises(UsageError):
        find_machine((ALPHA,), "Alpha", SOURCE)


def test_hostname_matches_exactly_before_ignoring_case() -> None:
    upper = Machine("Lab1", 1.0, 4)
    lower = Machine("lab1", 1.0, 4)
    assert machine_for_hostname((upper, lower), "lab1") is lower


def test_hostname_matches_ignoring_case() -> None:
    assert machine_for_hostname((ALPHA, BETA), "BETA") is BETA


def test_hostname_first_label_matches_ignoring_case() -> None:
    assert machine_for_hostname((ALPHA, BETA), "Beta.lab.example.org") is BETA


def test_full_hostname_is_preferred_over_its_first_label() -> None:
    short = Machine("node", 1.0, 4)
    full = Machine("node.cluster", 1.0, 4)
    assert machine_for_hostname((short, full), "NODE.cluster") is full


def test_unknown_hostname_matches_no_machine() -> None:
    assert machine_for_hostname((ALPHA, BETA), "delta.example.org") is None
    assert machine_for_hostname((ALPHA, BETA), "") is None


# The long form: what a machine holds besides its cores.


def test_long_form_declares_gpus_mem_tags_and_named_counts() -> None:
    text = (
        '{"alpha": {"perf": 1.0, "cores": 8, "gpus": 2, "mem": "64G", '
        '"tags": ["openfoam", "cuda"], "licences": 4}}'
    )
    assert parse_machines(text, SOURCE) == (
        Machine("alpha", 1.0, 8, 2, 64 * 2**30, ("cuda", "openfoam"), (("licences", 4),)),
    )


def test_long_form_with_only_perf_and_cores_is_the_short_form() -> None:
    (machine,) = parse_machines('{"alpha": {"perf": 1.0, "cores": 8}}', SOURCE)
    assert machine == ALPHA
    assert machine.cores_only
    assert machine.weight == 8.0


def test_long_and_short_forms_mix_in_one_file() -> None:
    text = '{"alpha": [1.0, 8], "beta": {"perf": 2.5, "cores": 4, "gpus": 1}}'
    assert parse_machines(text, SOURCE) == (ALPHA, Machine("beta", 2.5, 4, gpus=1))


def test_mem_counts_in_1024s_or_in_1000s_with_b() -> None:
    text = (
        '{"a": {"perf": 1, "cores": 1, "mem": "1.5G"}, "b": {"perf": 1, "cores": 1, "mem": "8GB"}}'
    )
    assert [machine.mem for machine in parse_machines(text, SOURCE)] == [3 * 2**29, 8 * 10**9]


def test_named_counts_of_zero_are_left_out() -> None:
    (machine,) = parse_machines('{"alpha": {"perf": 1, "cores": 2, "licences": 0}}', SOURCE)
    assert machine.resources == ()


def test_capacity_lists_every_count() -> None:
    machine = Machine("alpha", 1.0, 8, 2, 1024, ("cuda",), (("licences", 4),))
    assert machine.capacity() == {"cores": 8, "gpus": 2, "mem": 1024, "licences": 4}
    assert machine.describe(["cores", "gpus", "mem"], tags=True) == (
        "cores=8 gpus=2 mem=1K tags=cuda"
    )


LONG_FORM_ERRORS = [
    pytest.param(
        '{"perf": 1.0}',
        "machine 'alpha' has no 'cores'; every machine gives perf and cores, "
        'like {"cores": 8, ...}',
        id="no-cores",
    ),
    pytest.param(
        '{"cores": 8}',
        "machine 'alpha' has no 'perf'; every machine gives perf and cores, "
        'like {"perf": 1.0, ...}',
        id="no-perf",
    ),
    pytest.param(
        '{"perf": 1.0, "cores": 8, "cores": 4}',
        "machine 'alpha' lists 'cores' twice; keep one 'cores'",
        id="field-twice",
    ),
    pytest.param(
        '{"perf": "fast", "cores": 8}',
        'machine \'alpha\' has perf "fast", but perf must be a number, like "perf": 1.5',
        id="perf-text",
    ),
    pytest.param(
        '{"perf": 1.0, "cores": 2.5}',
        "machine 'alpha' has cores 2.5, but cores must be a positive whole number, "
        'like "cores": 8',
        id="fractional-cores",
    ),
    pytest.param(
        '{"perf": 1.0, "cores": 8, "gpus": -1}',
        "machine 'alpha' has gpus -1, but gpus must be a whole number, 0 or more, "
        'like "gpus": 2',
        id="negative-gpus",
    ),
    pytest.param(
        '{"perf": 1.0, "cores": 8, "gpus": "2"}',
        "machine 'alpha' has gpus \"2\", but gpus must be a whole number, 0 or more, "
        'like "gpus": 2',
        id="gpus-text",
    ),
    pytest.param(
        '{"perf": 1.0, "cores": 8, "mem": "8 gigs"}',
        "machine 'alpha' has mem \"8 gigs\", but mem must be a size with a unit, like "
        '"mem": "64G" (K, M, G, T count in 1024s, KB, MB, GB, TB in 1000s)',
        id="unknown-unit",
    ),
    pytest.param(
        '{"perf": 1.0, "cores": 8, "mem": 64}',
        "machine 'alpha' has mem 64, but mem must be a size with a unit, like "
        '"mem": "64G" (K, M, G, T count in 1024s, KB, MB, GB, TB in 1000s)',
        id="mem-without-unit",
    ),
    pytest.param(
        '{"perf": 1.0, "cores": 8, "tags": "openfoam"}',
        "machine 'alpha' has tags \"openfoam\", but tags must be a list of names (letters, "
        "digits, '.', '_', '+' and '-'), like \"tags\": [\"openfoam\"]",
        id="tags-not-a-list",
    ),
    pytest.param(
        '{"perf": 1.0, "cores": 8, "tags": ["open foam"]}',
        "machine 'alpha' has tags [\"open foam\"], but tags must be a list of names (letters, "
        "digits, '.', '_', '+' and '-'), like \"tags\": [\"openfoam\"]",
        id="tag-with-space",
    ),
    pytest.param(
        '{"perf": 1.0, "cores": 8, "licences": 2.5}',
        "machine 'alpha' has licences 2.5, but every field besides perf, cores, gpus, mem "
        'and tags is a named count, a whole number 0 or more, like "licences": 4',
        id="fractional-count",
    ),
    pytest.param(
        '{"perf": 1.0, "cores": 8, "note": "fast box"}',
        "machine 'alpha' has note \"fast box\", but every field besides perf, cores, gpus, "
        'mem and tags is a named count, a whole number 0 or more, like "note": 4',
        id="text-count",
    ),
    pytest.param(
        '{"perf": 1.0, "cores": 8, "GPUs": 2}',
        "machine 'alpha' has a count named 'GPUs', which reads like gpus; "
        "write gpus in lower case",
        id="field-in-capitals",
    ),
    pytest.param(
        '{"perf": 1.0, "cores": 8, "my licence": 2}',
        "machine 'alpha' has a count named 'my licence', which is not a name of letters, "
        "digits and '_' starting with a letter (it becomes an environment variable); "
        "rename it, like licences",
        id="count-name-with-space",
    ),
    pytest.param(
        '{"perf": 1.0, "cores": 8, "lic": 2, "LIC": 1}',
        "machine 'alpha' has counts 'lic' and 'LIC', which differ only in letter case "
        "(both would be one environment variable); keep one",
        id="counts-differing-in-case",
    ),
    pytest.param(
        '{"perf": 1e300, "cores": 8, "mem": "1P"}',
        "machine 'alpha' has perf x mem too large to compute with; give perf relative to "
        "your slowest machine, like [1.0, 8]",
        id="perf-times-mem-overflows",
    ),
]


@pytest.mark.parametrize(("entry", "message"), LONG_FORM_ERRORS)
def test_long_form_errors_name_the_machine_and_the_fix(entry: str, message: str) -> None:
    assert parse_error(f'{{"alpha": {entry}}}') == f"{SOURCE}: {message}"


def test_a_name_from_outside_machines_json_is_checked_as_its_names_and_says_where() -> None:
    assert check_machine_name("lab-1", "--machine") == "lab-1"
    with pytest.raises(UsageError) as caught:
        check_machine_name("../../ESCAPED", "--machine")
    assert str(caught.value) == (
        "machine '../../ESCAPED' given by --machine has a name with '/' or '\\', but names"
        " become folder names; use '-' instead"
    )
