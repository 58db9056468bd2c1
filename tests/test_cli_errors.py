"""End-to-end tests of bad input: exit 2 (or 3) with one line naming the file and the problem.

Every case runs the real CLI in a subprocess with stdin closed, and checks that
the whole message is one line on stderr, with nothing on stdout and no
traceback anywhere.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import ENTRY, run_cli, write_configs, write_entry

MACHINES_JSON = "configs/machines.json"
SPLITTER_INI = "configs/splitter.ini"
SHAPE = 'write it as {"name": [per_thread_perf, cores], ...}'
KNOWN_RUNNER_OPTIONS = (
    "seed, nice, progress_interval, job_timeout, flush_interval, pin_cores, enforce_mem"
)


def one_line_error(result: subprocess.CompletedProcess[str], exit_code: int = 2) -> str:
    """The single stderr line, after checking the exit code and that nothing else was said."""
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == exit_code, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n"), result.stderr
    prefix = "main.py: error: "
    assert result.stderr.startswith(prefix)
    return result.stderr[len(prefix) : -1]


# machines.json


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            '{"alpha": [1.0, 2],}',
            "line 1, column 20 is not valid JSON (Expecting property name enclosed in double "
            f"quotes); {SHAPE}",
            id="not-json",
        ),
        pytest.param(
            "",
            f"line 1, column 1 is not valid JSON (Expecting value); {SHAPE}",
            id="empty-file",
        ),
        pytest.param(
            '[["alpha", 1.0, 2]]',
            f'the file holds [["alpha", 1.0, 2]], but it must be a JSON object; {SHAPE}',
            id="not-an-object",
        ),
        pytest.param(
            "{}", f"the object lists no machines; {SHAPE} with at least one", id="empty-object"
        ),
        pytest.param(
            '{"alpha": [1.0, 2], "beta": [1.0, 2], "alpha": [2.0, 4]}',
            "machine 'alpha' is listed twice; keep one entry per machine",
            id="duplicate-name",
        ),
        pytest.param(
            '{"alpha": [1.0, 2, 3]}',
            "machine 'alpha' has [1.0, 2, 3], but each machine must be "
            '[per_thread_perf, cores], like [1.0, 8], or an object like {"perf": 1.0, "cores": 8}',
            id="three-values",
        ),
        pytest.param(
            '{"alpha": 8}',
            "machine 'alpha' has 8, but each machine must be [per_thread_perf, cores], "
            'like [1.0, 8], or an object like {"perf": 1.0, "cores": 8}',
            id="not-a-list",
        ),
        pytest.param(
            '{"alpha": ["fast", 2]}',
            "machine 'alpha' has perf \"fast\", but perf must be a number, like [1.5, 8]",
            id="perf-not-a-number",
        ),
        pytest.param(
            '{"alpha": [0, 2]}',
            "machine 'alpha' has perf 0, but perf must be a finite number above 0, like [1.5, 8]",
            id="perf-zero",
        ),
        pytest.param(
            '{"alpha": [-1.5, 2]}',
            "machine 'alpha' has perf -1.5, but perf must be a finite number above 0, "
            "like [1.5, 8]",
            id="perf-negative",
        ),
        pytest.param(
            '{"alpha": [1.0, 0]}',
            "machine 'alpha' has cores 0, but cores must be a positive whole number, "
            "like [1.0, 8]",
            id="cores-zero",
        ),
        pytest.param(
            '{"alpha": [1.0, 2.5]}',
            "machine 'alpha' has cores 2.5, but cores must be a positive whole number, "
            "like [1.0, 8]",
            id="cores-fraction",
        ),
        pytest.param(
            '{"alpha": [1.0, true]}',
            "machine 'alpha' has cores true, but cores must be a positive whole number, "
            "like [1.0, 8]",
            id="cores-bool",
        ),
        pytest.param(
            '{"lab/1": [1.0, 2]}',
            "machine 'lab/1' has a name with '/' or '\\', but names become folder names; "
            "use '-' instead",
            id="name-slash",
        ),
        pytest.param(
            '{"lab\\\\1": [1.0, 2]}',
            "machine 'lab\\\\1' has a name with '/' or '\\', but names become folder names; "
            "use '-' instead",
            id="name-backslash",
        ),
        pytest.param(
            '{"..": [1.0, 2]}',
            "machine '..' has a name that cannot be a folder name; pick another name, "
            "like 'lab-1'",
            id="name-dotdot",
        ),
        pytest.param(
            '{"": [1.0, 2]}',
            "machine '' has an empty name; give every machine a name, like 'lab-1'",
            id="name-empty",
        ),
        pytest.param(
            '{"lab\\u00071": [1.0, 2]}',
            "machine 'lab\\x071' has a name with a control character; remove it, "
            "since names become folder names",
            id="name-control-character",
        ),
        pytest.param(
            '{"alpha": ' + "[" * 100_000 + "]" * 100_000 + "}",
            f"the JSON is nested too deeply to read; {SHAPE}",
            id="nested-too-deeply",
        ),
    ],
)
def test_bad_machines_json_exits_2_with_one_line_naming_the_file(
    campaign_dir: Path, text: str, message: str
) -> None:
    write_configs(campaign_dir / "configs", text)

    result = run_cli(["plan"], campaign_dir)

    assert one_line_error(result) == f"{MACHINES_JSON}: {message}"


def test_missing_machines_json_exits_2_naming_splitter_init(campaign_dir: Path) -> None:
    (campaign_dir / "configs" / "machines.json").unlink()

    result = run_cli(["digest"], campaign_dir)

    assert one_line_error(result) == (
        f"{MACHINES_JSON} does not exist; `splitter init --configs configs` writes a template"
    )


def test_configs_option_that_is_not_a_folder_exits_2(campaign_dir: Path) -> None:
    result = run_cli(["plan", "--configs", "nowhere"], campaign_dir)

    assert one_line_error(result) == (
        "--configs nowhere is not a folder; pass the folder holding machines.json and "
        "splitter.ini, or create one with `splitter init --configs nowhere`"
    )


# splitter.ini


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "[job]\nsteps = 20\nthis line is not an option\n",
            "line 3 ('this line is not an option') is neither 'option = value' nor a "
            "[section] header; fix or remove it",
            id="syntax-error",
        ),
        pytest.param(
            "steps = 20\n",
            "line 1 ('steps = 20') comes before any [section] header; "
            "put it under a section such as [job]",
            id="no-section",
        ),
        pytest.param(
            "[run]\nnice = high\n",
            "[run] nice = 'high' is not a whole number from 0 to 19; write e.g. nice = 10",
            id="bad-nice",
        ),
        pytest.param(
            "[run]\nworkers = 4\n",
            f"[run] has no option 'workers' (known: {KNOWN_RUNNER_OPTIONS}); "
            "fix the spelling or move it to a section of your own",
            id="unknown-runner-option",
        ),
        pytest.param(
            "[logging]\nmax_file_size = 10 furlongs\n",
            "[logging] max_file_size = '10 furlongs' is not a size above 0, like 64MiB, "
            "512k or 1G; write e.g. max_file_size = 64MiB",
            id="bad-filesize",
        ),
        pytest.param(
            "[logging]\nformat = %(foo)s\n",
            "[logging] format = '%(foo)s' is not a logging format of log record fields (there"
            " is no %(foo)s; known: asctime, machine, levelname, name, message, processName,"
            " ...); write e.g. format = %(levelname)s %(message)s",
            id="unknown-log-field",
        ),
        pytest.param(
            "[results]\ncolumns = job_id\n",
            "[results] columns = 'job_id' is not a list of the job's own column names ('job_id'"
            " is one of splitter's: job_id, machine, status, start_time, duration, error,"
            " job_key, input, origin, extra); write e.g. columns = alpha, beta, score",
            id="column-named-like-ours",
        ),
    ],
)
def test_bad_splitter_ini_exits_2_with_one_line_naming_the_file(
    campaign_dir: Path, text: str, message: str
) -> None:
    (campaign_dir / "configs" / "splitter.ini").write_text(text)

    result = run_cli(["plan"], campaign_dir)

    assert one_line_error(result) == f"{SPLITTER_INI}: {message}"


# the job pool


@pytest.mark.parametrize(
    ("prelude", "pool", "message"),
    [
        pytest.param(
            "",
            "[1, 2, {3, 4}]",
            "job pool item 2 is a set, which has no canonical encoding",
            id="set",
        ),
        pytest.param(
            "class Point:\n    pass",
            "[(0, 0), Point()]",
            "job pool item 1 is a Point, which has no canonical encoding",
            id="object",
        ),
        pytest.param(
            "class Point:\n    pass",
            "[(0, 0), (1, Point())]",
            "job pool item 1 contains a Point, which has no canonical encoding",
            id="object-inside-a-tuple",
        ),
    ],
)
def test_pool_item_without_canonical_encoding_exits_2_naming_the_item_and_key(
    tmp_path: Path, prelude: str, pool: str, message: str
) -> None:
    write_configs(tmp_path / "configs")
    write_entry(tmp_path / ENTRY, pool=pool, prelude=prelude)

    result = run_cli(["digest"], tmp_path)

    error = one_line_error(result)
    assert error.startswith(message + " (supported: ")
    assert error.endswith(
        "; pass key= to splitter.main to turn each item into an encodable value, "
        "e.g. key=lambda item: item.params"
    )


# choosing the machine and confirming


def test_unknown_machine_exits_2_listing_the_known_names(campaign_dir: Path) -> None:
    result = run_cli(["run", "--machine", "delta", "--yes", "--out", "out"], campaign_dir)

    assert one_line_error(result) == (
        f"machine 'delta' is not in {MACHINES_JSON} (known: alpha, beta, gamma); "
        "pass --machine with one of them"
    )
    assert not (campaign_dir / "out").exists()


def test_unknown_machine_in_the_environment_exits_2(campaign_dir: Path) -> None:
    result = run_cli(["--yes", "--out", "out"], campaign_dir, env={"SPLITTER_MACHINE": "delta"})

    assert "machine 'delta' is not in" in one_line_error(result)
    assert not (campaign_dir / "out").exists()


def test_run_without_machine_or_terminal_exits_2_at_once_naming_the_option(
    campaign_dir: Path,
) -> None:
    result = run_cli(["run", "--yes", "--out", "out"], campaign_dir, timeout=20)

    assert one_line_error(result) == (
        "no machine chosen and no terminal to ask on; pass --machine NAME or set "
        f"SPLITTER_MACHINE (known in {MACHINES_JSON}: alpha, beta, gamma)"
    )
    assert not (campaign_dir / "out").exists()


def test_run_is_the_default_command(campaign_dir: Path) -> None:
    result = run_cli(["--yes"], campaign_dir, timeout=20)

    assert "no machine chosen and no terminal to ask on" in one_line_error(result)


def test_run_without_terminal_or_yes_exits_2_naming_yes(campaign_dir: Path) -> None:
    result = run_cli(["run", "--machine", "alpha", "--out", "out"], campaign_dir, timeout=20)

    assert "Traceback" not in result.stdout + result.stderr
    assert (result.returncode, result.stdout) == (2, "")
    # The share is said first, then the refusal.
    lines = result.stderr.splitlines()
    assert lines[0].startswith("machine alpha: 3 of 10 jobs, digest ")
    assert lines[1:] == [
        "main.py: error: no terminal to confirm on; pass --yes, "
        "or --expect-digest HEX to check the digest"
    ]
    assert not (campaign_dir / "out").exists()


# --expect-digest


@pytest.mark.parametrize(
    ("value", "problem"),
    [("12", "is too short"), ("zzzzzzzz", "is not hexadecimal"), ("1234 567", "is too short")],
)
def test_malformed_expect_digest_exits_2(campaign_dir: Path, value: str, problem: str) -> None:
    args = ["run", "--machine", "alpha", "--expect-digest", value, "--out", "out"]

    result = run_cli(args, campaign_dir)

    assert one_line_error(result) == (
        f"--expect-digest '{value}' {problem}: give at least 8 hex digits of the digest "
        "shown by `plan`"
    )
    assert not (campaign_dir / "out").exists()


def test_wrong_expect_digest_exits_3_and_writes_nothing(campaign_dir: Path) -> None:
    digest = run_cli(["digest", "--full"], campaign_dir).stdout.strip()
    wrong = f"{(int(digest[:8], 16) ^ 1):08x}"
    args = ["run", "--machine", "alpha", "--expect-digest", wrong, "--out", "out"]

    result = run_cli(args, campaign_dir)

    assert one_line_error(result, exit_code=3) == (
        f"digest mismatch: this plan is {digest[0:4]} {digest[4:8]} {digest[8:12]} "
        f"{digest[12:16]}, but --expect-digest is {wrong}; the configs or the job pool "
        "differ from the other hosts'"
    )
    assert not (campaign_dir / "out").exists()


def test_right_expect_digest_as_grouped_is_accepted_and_the_share_runs(
    campaign_dir: Path,
) -> None:
    grouped = run_cli(["digest"], campaign_dir).stdout.strip()
    args = ["run", "--machine", "alpha", "--expect-digest", grouped.upper(), "--out", "out"]

    result = run_cli(args, campaign_dir)

    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == f"machine alpha: 3 of 10 jobs, digest {grouped}"
    assert (campaign_dir / "out" / "alpha" / "manifest.json").is_file()
