"""Task files: which lines are tasks, and the bad files refused before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from splitter.campaign.config import parse_config
from splitter.campaign.taskfile import (
    TaskSettings,
    longest_command,
    parse_tasks,
    read_task_file,
    task_settings,
)
from splitter.errors import UsageError


def test_every_non_blank_non_comment_line_is_a_task_in_order() -> None:
    text = "# sweep\necho a\n\n   \n  # indented comment\necho b > out/1.txt\r\nexit 3"
    assert parse_tasks(text) == ("echo a", "echo b > out/1.txt", "exit 3")


def test_a_byte_order_mark_is_not_part_of_the_first_task() -> None:
    assert parse_tasks("\ufefftrue\n") == ("true",)


def test_a_task_keeps_its_text_exactly_but_its_line_end(tmp_path: Path) -> None:
    path = tmp_path / "tasks.txt"
    path.write_bytes(b"  echo 'x  y'  \r\nprintf %s\\n \xc3\xa9\n")
    assert read_task_file(path) == ("  echo 'x  y'  ", "printf %s\\n \u00e9")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "holds no tasks (only blank lines and # comments); write one shell command"),
        (b"# only a comment\n\n", "holds no tasks"),
        (b"echo a\n\x00\x01\x02", "is not text (it holds NUL bytes)"),
        (b"echo \xff\n", "is not UTF-8 text (byte 5 is invalid)"),
    ],
)
def test_a_file_that_is_no_task_file_is_refused_in_one_sentence(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "tasks.txt"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=r"^task file .*tasks\.txt ") as error:
        read_task_file(path)
    assert message in str(error.value)
    assert error.value.exit_code == 2


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
    assert read_task_file(path) == (line,)


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
