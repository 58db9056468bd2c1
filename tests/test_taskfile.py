"""Task files: reading the bytes, and the bad files refused before anything runs."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from splitter.campaign.config import parse_config
from splitter.campaign.directives import TaskFile
from splitter.campaign.taskfile import (
    STDIN,
    TaskSettings,
    longest_command,
    read_task_file,
    task_file_name,
    task_settings,
)
from splitter.errors import UsageError


def commands(tasks: TaskFile) -> list[str]:
    return [task.command for task in tasks.tasks]


def test_a_task_keeps_its_text_exactly_but_its_line_end(tmp_path: Path) -> None:
    path = tmp_path / "tasks.txt"
    path.write_bytes(b"  echo 'x  y'  \r\nprintf %s\\n \xc3\xa9\n")
    assert commands(read_task_file(path)) == ["  echo 'x  y'  ", "printf %s\\n \u00e9"]


def test_a_file_that_is_not_utf8_keeps_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("echo café > out\n".encode("latin-1"))
    (task,) = read_task_file(path).tasks
    assert task.command.encode("utf-8", "surrogateescape") == b"echo caf\xe9 > out"


def test_an_empty_file_has_no_tasks_and_is_no_error(tmp_path: Path) -> None:
    path = tmp_path / "tasks.txt"
    path.write_bytes(b"# only a comment\n\n")
    assert read_task_file(path).tasks == ()


def test_standard_input_is_read_for_a_dash_and_named_stdin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"echo a\necho b\n")))
    assert commands(read_task_file(STDIN)) == ["echo a", "echo b"]
    assert (task_file_name(STDIN), task_file_name(Path("runs/sweep.txt"))) == (
        "stdin",
        "sweep.txt",
    )


def test_a_file_with_nul_bytes_is_refused_in_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "tasks.txt"
    path.write_bytes(b"echo a\n\x00\x01\x02")
    with pytest.raises(UsageError) as error:
        read_task_file(path)
    assert str(error.value) == (
        f"task file {path} is not text (it holds NUL bytes); pass a file with one shell "
        "command per line"
    )
    assert error.value.exit_code == 2


def test_a_bom_before_an_overlong_first_line_names_line_1(tmp_path: Path) -> None:
    path = tmp_path / "tasks.txt"
    path.write_bytes(b"\xef\xbb\xbfecho " + b"x" * 200_000 + b"\n")
    with pytest.raises(UsageError) as error:
        read_task_file(path)
    assert f"task file {path}: line 1 (job 0) is 200005 bytes, longer than the" in str(error.value)


def test_a_missing_task_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as error:
        read_task_file(tmp_path / "nope.txt")
    assert str(error.value) == (
        f"task file {tmp_path / 'nope.txt'} does not exist; check the path given to --tasks"
    )


def test_a_line_too_long_for_the_os_is_refused_with_its_line_and_job(tmp_path: Path) -> None:
    limit = longest_command()
    path = tmp_path / "tasks.txt"
    path.write_text(f"# c\ntrue\necho {'x' * limit}\n")
    with pytest.raises(UsageError) as error:
        read_task_file(path)
    assert f"line 3 (job 1) is {limit + 5} bytes, longer than the {limit} bytes" in str(
        error.value
    )


def test_a_line_at_the_limit_is_a_task(tmp_path: Path) -> None:
    path = tmp_path / "tasks.txt"
    line = "x" * longest_command()
    path.write_text(line)
    assert commands(read_task_file(path)) == [line]


def test_the_tasks_section_defaults_to_bash_and_no_kept_output() -> None:
    assert task_settings(parse_config("", "s.ini"), "s.ini") == TaskSettings("", False)


def test_the_tasks_section_sets_the_shell_and_keep_output() -> None:
    config = parse_config("[tasks]\nshell = /bin/sh\nkeep_output = yes\n", "s.ini")
    assert task_settings(config, "s.ini") == TaskSettings("/bin/sh", True)


def test_an_unknown_or_bad_tasks_option_is_refused() -> None:
    with pytest.raises(UsageError, match=r"^s\.ini: \[tasks\] has no option 'shel' "):
        task_settings(parse_config("[tasks]\nshel = sh\n", "s.ini"), "s.ini")
    with pytest.raises(UsageError, match="keep_output = 'maybe' is not true or false"):
        task_settings(parse_config("[tasks]\nkeep_output = maybe\n", "s.ini"), "s.ini")


def test_prefix_and_suffix_count_in_the_length_of_a_command(tmp_path: Path) -> None:
    limit = longest_command()
    path = tmp_path / "tasks.txt"
    path.write_text(f"#DISBATCH PREFIX {'x' * (limit - 1)}\n\nyz\n")
    with pytest.raises(UsageError, match=rf"line 3 \(job 0\) is {limit + 1} bytes"):
        read_task_file(path)


def test_the_tasks_section_sets_the_folder_tasks_run_in() -> None:
    config = parse_config("[tasks]\ncwd = runs/a   # where the inputs are\n", "s.ini")
    assert task_settings(config, "s.ini") == TaskSettings(cwd="runs/a")


def test_a_tasks_cwd_of_several_lines_is_refused_in_one_sentence() -> None:
    config = parse_config("[tasks]\ncwd = runs\n  more\n", "s.ini")
    with pytest.raises(UsageError) as caught:
        task_settings(config, "s.ini")
    assert str(caught.value) == (
        "s.ini: [tasks] cwd = 'runs\\nmore' spans several lines; write one folder on one line"
    )
