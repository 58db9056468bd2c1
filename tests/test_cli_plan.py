"""End-to-end tests of `plan`, `digest` and `init`: the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
from pathlib import Path

from conftest import ENTRY, run_cli, run_module, write_configs, write_entry
from splitter.campaign.load import ConfigsLocation, load_campaign
from splitter.campaign.templates import default_machine_name

PLAN_ROWS = [
    "machine  perf  cores  weight  share     %  positions",
    "alpha       1      2       2      3  28.6       0..2",
    "beta      1.5      2       3      4  42.9       3..6",
    "gamma     0.5      4       2      3  28.6       7..9",
]
FOOTER = "positions: each machine's slice of the pool in plan order (see `plan --json`)"


def share_row(name: str, perf: float, cores: int, start: int, stop: int) -> dict[str, object]:
    """One machine's entry in `plan --json`."""
    return {
        "name": name, "perf": perf, "cores": cores, "weight": perf * cores,
        "share": stop - start, "start": start, "stop": stop,
    }  # fmt: skip


def library_digest(configs: Path, pool: object) -> bytes:
    """The plan digest as the library computes it, to check the CLI against."""
    return load_campaign(ConfigsLocation(configs, "--configs"), pool).plan.digest


def grouped(digest: bytes) -> str:
    """The first 8 bytes as hex in groups of four, as `plan` and `digest` show them."""
    head = digest[:8].hex()
    return f"{head[0:4]} {head[4:8]} {head[8:12]} {head[12:16]}"


def cli_digest(
    cwd: Path, *args: str, env: dict[str, str] | None = None, entry: Path | None = None
) -> str:
    """Run `digest ARGS` and return its stdout, checking that it succeeded quietly."""
    result = run_cli(["digest", *args], cwd, env, entry=entry)
    assert (result.returncode, result.stderr) == (0, "")
    return result.stdout


# plan


def test_plan_prints_digest_total_configs_and_a_row_per_machine(campaign_dir: Path) -> None:
    digest = library_digest(campaign_dir / "configs", list(range(10)))

    result = run_cli(["plan"], campaign_dir)

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        f"digest  {grouped(digest)}   (full: {digest.hex()})",
        "jobs    10",
        "configs configs (./configs)",
        "",
        *PLAN_ROWS,
        "",
        FOOTER,
    ]


def test_plan_json_gives_digest_total_and_machines(campaign_dir: Path) -> None:
    digest = library_digest(campaign_dir / "configs", list(range(10)))

    result = run_cli(["plan", "--json"], campaign_dir)

    assert (result.returncode, result.stderr) == (0, "")
    document = json.loads(result.stdout)
    assert document["digest"] == digest.hex()
    assert document["digest_grouped"] == grouped(digest)
    assert document["total"] == 10
    assert document["configs"] == {"path": "configs", "origin": "./configs"}
    assert document["machines"] == [
        share_row("alpha", 1.0, 2, 0, 3),
        share_row("beta", 1.5, 2, 3, 7),
        share_row("gamma", 0.5, 4, 7, 10),
    ]


def test_plan_json_shares_sum_to_the_total_in_contiguous_disjoint_ranges(tmp_path: Path) -> None:
    machines = {"a": [1.0, 3], "b": [2.2, 1], "c": [0.7, 5], "d": [1.3, 2], "e": [9.0, 1]}
    write_configs(tmp_path / "configs", machines)
    write_entry(tmp_path / ENTRY, pool="list(range(37))")

    result = run_cli(["plan", "--json"], tmp_path)

    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    shares = document["machines"]
    assert [share["name"] for share in shares] == list(machines)
    assert sum(share["share"] for share in shares) == document["total"] == 37
    assert [share["start"] for share in shares] == [0] + [share["stop"] for share in shares[:-1]]
    assert shares[-1]["stop"] == 37
    assert all(share["stop"] - share["start"] == share["share"] for share in shares)
    weight = sum(perf * cores for perf, cores in machines.values())
    for share in shares:
        quota = 37 * share["weight"] / weight
        assert abs(share["share"] - quota) < 1


def test_plan_shows_a_dash_for_a_machine_with_no_jobs(tmp_path: Path) -> None:
    write_configs(tmp_path / "configs", {"alpha": [1.0, 1], "beta": [3.0, 2], "gamma": [1.0, 3]})
    write_entry(tmp_path / ENTRY, pool="['x', 'y']")

    result = run_cli(["plan"], tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[4:8] == [
        "machine  perf  cores  weight  share     %  positions",
        "alpha       1      1       1      0  10.0          -",
        "beta        3      2       6      1  60.0       0..0",
        "gamma       1      3       3      1  30.0       1..1",
    ]


# digest


def test_digest_prints_only_the_grouped_digest(campaign_dir: Path) -> None:
    digest = library_digest(campaign_dir / "configs", list(range(10)))

    assert cli_digest(campaign_dir) == grouped(digest) + "\n"


def test_digest_full_prints_all_64_hex_digits(campaign_dir: Path) -> None:
    digest = library_digest(campaign_dir / "configs", list(range(10)))

    output = cli_digest(campaign_dir, "--full")

    assert re.fullmatch(r"[0-9a-f]{64}\n", output)
    assert output == digest.hex() + "\n"


def test_digest_is_the_same_from_another_working_dir_and_configs_path(campaign_dir: Path) -> None:
    elsewhere = campaign_dir / "elsewhere" / "deeper"
    elsewhere.mkdir(parents=True)
    shutil.copytree(campaign_dir / "configs", campaign_dir / "copy-of-configs")
    entry = campaign_dir / ENTRY

    here = cli_digest(campaign_dir)
    there = cli_digest(elsewhere, "--configs", str(campaign_dir / "configs"), entry=entry)
    relative = cli_digest(elsewhere, "--configs", "../../copy-of-configs", entry=entry)

    assert here == there == relative


def test_digest_does_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    write_configs(tmp_path / "configs")
    pool = "[{'name': f'run-{i}', 'params': (i, i / 7, b'x' * i), 'tags': ['a', None, True]} for i in range(8)]"  # noqa: E501
    write_entry(tmp_path / ENTRY, pool=pool)

    seed_0 = cli_digest(tmp_path, "--full", env={"PYTHONHASHSEED": "0"})
    seed_1 = cli_digest(tmp_path, "--full", env={"PYTHONHASHSEED": "1"})

    assert seed_0 == seed_1


def test_digest_changes_when_a_config_value_changes(campaign_dir: Path) -> None:
    before = cli_digest(campaign_dir, "--full")
    (campaign_dir / "configs" / "splitter.ini").write_text("[job]\nsteps = 21\n")

    assert cli_digest(campaign_dir, "--full") != before


def test_digest_changes_when_a_machine_changes(campaign_dir: Path) -> None:
    before = cli_digest(campaign_dir, "--full")
    write_configs(
        campaign_dir / "configs", {"alpha": [1.0, 2], "beta": [1.5, 3], "gamma": [0.5, 4]}
    )

    assert cli_digest(campaign_dir, "--full") != before


def test_digest_is_the_same_for_integer_and_float_perf(campaign_dir: Path) -> None:
    before = cli_digest(campaign_dir, "--full")
    write_configs(
        campaign_dir / "configs", '{"alpha": [1, 2], "beta": [1.5, 2], "gamma": [0.5, 4]}'
    )

    assert cli_digest(campaign_dir, "--full") == before


def test_digest_ignores_comments_whitespace_and_crlf_in_splitter_ini(campaign_dir: Path) -> None:
    before = cli_digest(campaign_dir, "--full")
    reformatted = (
        "# a comment the digest must not see\r\n"
        "\r\n"
        "; another comment\r\n"
        "[job]\r\n"
        "steps=20    # an inline comment\r\n"
        "\r\n"
    )
    (campaign_dir / "configs" / "splitter.ini").write_bytes(reformatted.encode())

    assert cli_digest(campaign_dir, "--full") == before


# where the configs come from


def test_configs_option_is_honoured_over_dot_configs(campaign_dir: Path) -> None:
    other = write_configs(campaign_dir / "other", {"solo": [2.0, 3]})

    result = run_cli(["plan", "--configs", "other"], campaign_dir)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1:3] == ["jobs    10", "configs other (--configs)"]
    assert lines[4:6] == [
        "machine  perf  cores  weight  share      %  positions",
        "solo        2      3       6     10  100.0       0..9",
    ]
    assert cli_digest(campaign_dir, "--configs", str(other)) != cli_digest(campaign_dir)


def test_no_configs_folder_and_no_option_exits_2_naming_splitter_init(tmp_path: Path) -> None:
    write_entry(tmp_path / ENTRY)

    result = run_cli(["plan"], tmp_path)

    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "main.py: error: no configs: ./configs does not exist here; pass --configs DIR, "
        "or write templates with `splitter init --configs configs`\n"
    )


# init


def test_init_writes_machines_json_for_this_host_and_splitter_ini(tmp_path: Path) -> None:
    result = run_module(["init", "--configs", "X"], tmp_path)

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "wrote X/machines.json",
        "wrote X/splitter.ini",
        'next: list every machine in X/machines.json as "name": [per_thread_perf, cores] '
        "(or in the long form of the second entry, with GPUs, memory and tags), "
        "add your own sections to X/splitter.ini, then copy the folder to every host",
    ]
    machines = json.loads((tmp_path / "X" / "machines.json").read_text())
    this_host = default_machine_name(socket.gethostname())
    assert next(iter(machines.items())) == (this_host, [1.0, os.cpu_count()])
    ini = (tmp_path / "X" / "splitter.ini").read_text()
    assert "[logging]" in ini and "[run]" in ini and "[job]" in ini


def test_init_twice_overwrites_nothing_and_says_it_kept_the_files(tmp_path: Path) -> None:
    assert run_module(["init", "--configs", "X"], tmp_path).returncode == 0
    machines, ini = tmp_path / "X" / "machines.json", tmp_path / "X" / "splitter.ini"
    machines.write_text('{"edited": [3.0, 1]}\n')
    before = (machines.read_bytes(), ini.read_bytes())

    result = run_module(["init", "--configs", "X"], tmp_path)

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "kept X/machines.json (it exists; init never overwrites)",
        "kept X/splitter.ini (it exists; init never overwrites)",
    ]
    assert (machines.read_bytes(), ini.read_bytes()) == before


def test_init_writes_only_the_missing_file(tmp_path: Path) -> None:
    write_configs(tmp_path / "X", {"mine": [1.0, 1]}, config=None)

    result = run_module(["init", "--configs", "X"], tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == [
        "wrote X/splitter.ini",
        "kept X/machines.json (it exists; init never overwrites)",
    ]
    assert json.loads((tmp_path / "X" / "machines.json").read_text()) == {"mine": [1.0, 1]}


def test_init_templates_are_usable_by_plan_at_once(tmp_path: Path) -> None:
    assert run_module(["init", "--configs", "X"], tmp_path).returncode == 0
    write_entry(tmp_path / ENTRY)

    result = run_cli(["plan", "--configs", "X"], tmp_path)

    assert (result.returncode, result.stderr) == (0, "")
    this_host = default_machine_name(socket.gethostname())
    names = [line.split()[0] for line in result.stdout.splitlines()[5:7]]
    assert names == [this_host, "other-host"]
    assert result.stdout.splitlines()[1] == "jobs    10"


def test_init_template_ini_digests_like_the_built_in_defaults(tmp_path: Path) -> None:
    """The template sets every runner option to its default, plus a [job] steps = 100."""
    assert run_module(["init", "--configs", "X"], tmp_path).returncode == 0
    write_entry(tmp_path / ENTRY)
    template = cli_digest(tmp_path, "--full", "--configs", "X")
    (tmp_path / "X" / "splitter.ini").write_text("[job]\nsteps = 100\n")

    assert cli_digest(tmp_path, "--full", "--configs", "X") == template


def test_plan_warns_on_stderr_when_perfs_are_on_different_scales_and_still_prints(
    tmp_path: Path,
) -> None:
    write_configs(tmp_path / "configs", {"alpha": [96.9, 2], "beta": [1.0, 2]})
    write_entry(tmp_path / ENTRY)
    done = run_cli(["plan"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(
        f"warning: perfs of {Path('configs') / 'machines.json'} are on different scales"
        " (alpha 96.9 is 97x beta 1); calibrate every machine"
    )
    assert "machine  perf  cores" in done.stdout
