"""Tests for splitter.campaign.templates: what `splitter init` writes; it never overwrites."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from splitter.campaign.config import config_content, load_config, parse_config, runner_settings
from splitter.campaign.machines import Machine, load_machines, machine_name_problem, parse_machines
from splitter.campaign.taskfile import TaskSettings, task_settings
from splitter.campaign.templates import (
    InitResult,
    config_template,
    default_machine_name,
    machines_template,
    write_templates,
)
from splitter.errors import ConfigError


@pytest.mark.parametrize(
    ("hostname", "name"),
    [
        ("lab1", "lab1"),
        ("Lab1.physics.example.org", "Lab1"),
        ("my host", "my-host"),
        ("büro-pc", "b-ro-pc"),
        ("node_07", "node_07"),
        ("", "this-host"),
        (".local", "this-host"),
        ("CON", "CON-host"),
        ("nul.example.org", "nul-host"),
        ("x" * 150, "x" * 100),
    ],
)
def test_default_machine_name_is_the_folder_safe_first_label(hostname: str, name: str) -> None:
    assert default_machine_name(hostname) == name


@given(st.text())
def test_default_machine_name_is_always_valid(hostname: str) -> None:
    assert machine_name_problem(default_machine_name(hostname)) is None


def test_machines_template_lists_this_host_then_a_placeholder() -> None:
    text = machines_template("lab1.example.org", 12)
    assert text == (
        '{\n  "lab1": [1.0, 12],\n'
        '  "other-host": {"perf": 1.0, "cores": 4, "gpus": 0, "mem": "16G", "tags": []}\n}\n'
    )
    assert parse_machines(text, "machines.json") == (
        Machine("lab1", 1.0, 12),
        Machine("other-host", 1.0, 4, mem=16 * 2**30),
    )


def test_machines_template_placeholder_avoids_this_hosts_name() -> None:
    text = machines_template("Other-Host", 2)
    assert parse_machines(text, "machines.json") == (
        Machine("Other-Host", 1.0, 2),
        Machine("another-host", 1.0, 4, mem=16 * 2**30),
    )


@given(st.text(), st.integers(min_value=1, max_value=4096))
def test_machines_template_always_parses(hostname: str, cores: int) -> None:
    machines = parse_machines(machines_template(hostname, cores), "machines.json")
    assert machines[0] == Machine(default_machine_name(hostname), 1.0, cores)


def test_machines_template_refuses_zero_cores() -> None:
    with pytest.raises(ValueError) as caught:
        machines_template("lab1", 0)
    assert str(caught.value) == "cores must be at least 1, not 0"


def test_config_template_parses_to_the_defaults_plus_the_job_example() -> None:
    template = config_content(parse_config(config_template(), "splitter.ini"))
    expected = config_content(parse_config("[job]\nsteps = 100\n", "splitter.ini"))
    assert template == expected


def test_config_template_gives_the_default_runner_settings() -> None:
    template = parse_config(config_template(), "splitter.ini")
    defaults = parse_config("", "splitter.ini")
    assert runner_settings(template, "splitter.ini") == runner_settings(defaults, "splitter.ini")


def test_config_template_explains_every_runner_option() -> None:
    lines = config_template().splitlines()
    options = [
        index
        for index, line in enumerate(lines)
        if not line.startswith("#") and (" = " in line or line.endswith(" ="))
    ]
    runner_options = [index for index in options if not lines[index].startswith("steps")]
    assert len(runner_options) == 19
    assert all(lines[index - 1].startswith("# ") for index in runner_options)


def test_write_templates_writes_both_files_into_a_new_folder(tmp_path: Path) -> None:
    folder = tmp_path / "nested" / "configs"
    result = write_templates(folder, "lab1.example.org", 8)
    assert result == InitResult(
        written=(folder / "machines.json", folder / "splitter.ini"), existing=()
    )
    assert load_machines(folder / "machines.json") == (
        Machine("lab1", 1.0, 8),
        Machine("other-host", 1.0, 4, mem=16 * 2**30),
    )
    assert load_config(folder / "splitter.ini").getint("job", "steps") == 100


def test_write_templates_never_overwrites_an_existing_file(tmp_path: Path) -> None:
    (tmp_path / "machines.json").write_text('{"mine": [2.0, 64]}\n', encoding="utf-8")
    result = write_templates(tmp_path, "lab1", 8)
    assert result == InitResult(
        written=(tmp_path / "splitter.ini",), existing=(tmp_path / "machines.json",)
    )
    assert (tmp_path / "machines.json").read_text(encoding="utf-8") == '{"mine": [2.0, 64]}\n'


def test_write_templates_twice_writes_nothing_the_second_time(tmp_path: Path) -> None:
    write_templates(tmp_path, "lab1", 8)
    (tmp_path / "splitter.ini").write_text("[job]\nsteps = 5\n", encoding="utf-8")
    result = write_templates(tmp_path, "lab2", 4)
    assert result == InitResult(
        written=(), existing=(tmp_path / "machines.json", tmp_path / "splitter.ini")
    )
    assert (tmp_path / "splitter.ini").read_text(encoding="utf-8") == "[job]\nsteps = 5\n"


def test_write_templates_into_a_file_path_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "configs"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        write_templates(blocker, "lab1", 8)
    assert str(caught.value) == (
        f"{blocker} cannot be created as a folder (File exists); "
        "pass --configs with a folder you can write to"
    )


def test_config_template_shows_the_tasks_options_commented_out_at_their_defaults() -> None:
    text = config_template()
    block = text[text.index("# [tasks]") : text.index("# Your own sections")].splitlines()
    settings = [line for line in block if line == "# [tasks]" or line.endswith((" =", " false"))]
    uncommented = "\n".join(line[2:] for line in settings)
    config = parse_config(uncommented, "splitter.ini")
    assert sorted(config["tasks"]) == ["cwd", "keep_output", "shell"]
    assert task_settings(config, "splitter.ini") == TaskSettings()
