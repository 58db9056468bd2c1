"""Tests for splitter.campaign.view: the plan as a table and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import write_configs
from splitter.campaign.load import Campaign, ConfigsLocation, load_campaign
from splitter.campaign.view import perf_scale_warning, plan_json, plan_table

THREE = {"alpha": [1.0, 2], "beta": [1.5, 2], "gamma": [0.5, 4]}
FOOTER = "positions: each machine's slice of the pool in plan order (see `plan --json`)"


def share_row(name: str, perf: float, cores: int, start: int, stop: int) -> dict[str, object]:
    """One machine's entry in `plan --json`."""
    return {
        "name": name, "perf": perf, "cores": cores, "weight": perf * cores,
        "share": stop - start, "start": start, "stop": stop,
    }  # fmt: skip


def campaign(tmp_path: Path, machines: object, pool: object) -> Campaign:
    folder = write_configs(tmp_path / "configs", machines)
    return load_campaign(ConfigsLocation(folder, "--configs"), pool)


def test_plan_table_for_three_machines(tmp_path: Path) -> None:
    made = campaign(tmp_path, THREE, list(range(10)))
    digest = made.plan.digest.hex()

    assert plan_table(made).split("\n") == [
        f"digest  {digest[0:4]} {digest[4:8]} {digest[8:12]} {digest[12:16]}   (full: {digest})",
        "jobs    10",
        f"configs {tmp_path / 'configs'} (--configs)",
        "",
        "machine  perf  cores  weight  share     %  positions",
        "alpha       1      2       2      3  28.6       0..2",
        "beta      1.5      2       3      4  42.9       3..6",
        "gamma     0.5      4       2      3  28.6       7..9",
        "",
        FOOTER,
    ]


def test_plan_table_widens_columns_for_long_values(tmp_path: Path) -> None:
    machines = {"a-long-machine-name": [12.25, 128], "b": [1.0, 1], "c": [0.125, 3]}
    made = campaign(tmp_path, machines, range(1000))

    assert plan_table(made).split("\n")[4:8] == [
        "machine               perf  cores  weight  share     %  positions",
        "a-long-machine-name  12.25    128    1568    999  99.9     0..998",
        "b                        1      1       1      1   0.1   999..999",
        "c                    0.125      3   0.375      0   0.0          -",
    ]


def test_plan_table_shows_a_dash_for_an_empty_share(tmp_path: Path) -> None:
    made = campaign(tmp_path, {"alpha": [1.0, 1], "beta": [3.0, 2], "gamma": [1.0, 3]}, ["x", "y"])

    assert plan_table(made).split("\n")[4:8] == [
        "machine  perf  cores  weight  share     %  positions",
        "alpha       1      1       1      0  10.0          -",
        "beta        3      2       6      1  60.0       0..0",
        "gamma       1      3       3      1  30.0       1..1",
    ]


def test_plan_table_for_an_empty_pool(tmp_path: Path) -> None:
    made = campaign(tmp_path, THREE, [])

    assert plan_table(made).split("\n")[1] == "jobs    0"
    assert [line.split()[-1] for line in plan_table(made).split("\n")[5:8]] == ["-", "-", "-"]


def test_plan_json_for_three_machines(tmp_path: Path) -> None:
    made = campaign(tmp_path, THREE, list(range(10)))
    digest = made.plan.digest.hex()

    assert plan_json(made) == {
        "digest": digest,
        "digest_grouped": f"{digest[0:4]} {digest[4:8]} {digest[8:12]} {digest[12:16]}",
        "campaign_seed": made.campaign_seed.hex(),
        "pool_digest": made.pool_digest.hex(),
        "config_digest": made.config_digest.hex(),
        "total": 10,
        "planned": 10,
        "rescue": False,
        "configs": {"path": str(tmp_path / "configs"), "origin": "--configs"},
        "machines": [
            share_row("alpha", 1.0, 2, 0, 3),
            share_row("beta", 1.5, 2, 3, 7),
            share_row("gamma", 0.5, 4, 7, 10),
        ],
    }


def test_plan_json_round_trips_through_json(tmp_path: Path) -> None:
    made = campaign(tmp_path, THREE, [("a", 1), ("b", 2)])

    assert json.loads(json.dumps(plan_json(made))) == plan_json(made)


def test_plan_json_and_table_agree_on_every_share(tmp_path: Path) -> None:
    made = campaign(tmp_path, {"p": [2.0, 3], "q": [1.0, 7], "r": [4.5, 1]}, range(23))
    rows = plan_table(made).split("\n")[5:8]
    shares = json.loads(json.dumps(plan_json(made)))["machines"]

    for row, share in zip(rows, shares, strict=True):
        name, _, _, _, size, _, positions = row.split()
        assert (name, int(size)) == (share["name"], share["share"])
        assert positions == f"{share['start']}..{share['stop'] - 1}"


MIXED = {
    "alpha": {"perf": 1.0, "cores": 8, "gpus": 2, "mem": "64G", "tags": ["openfoam"]},
    "beta": [1.0, 8],
}


def mixed_needs(item: int) -> dict[str, object]:
    return {"gpus": 1, "mem": "8G"} if item % 5 == 0 else {}


def test_plan_table_with_needs_shows_each_kind_and_each_machines_share_of_it(
    tmp_path: Path,
) -> None:
    folder = write_configs(tmp_path / "configs", MIXED)
    made = load_campaign(ConfigsLocation(folder, "--configs"), range(100), needs=mixed_needs)

    assert plan_table(made).split("\n")[4:] == [
        "kind  jobs  needs",
        "1       20  cores=1 gpus=1 mem=8G",
        "2       80  cores=1",
        "",
        "machine  perf  cores  weight  share  kind 1  kind 2  holds",
        "alpha       1      8       8     50      20      30  gpus=2 mem=64G tags=openfoam",
        "beta        1      8       8     50       -      50",
        "",
        "kind N: how many jobs of that kind the machine runs, a slice of that kind's jobs in "
        "plan order (see `plan --json`)",
    ]


def test_plan_json_with_needs_gives_the_kinds_and_each_machines_slices(tmp_path: Path) -> None:
    folder = write_configs(tmp_path / "configs", MIXED)
    made = load_campaign(ConfigsLocation(folder, "--configs"), range(100), needs=mixed_needs)
    shown = json.loads(json.dumps(plan_json(made)))

    assert shown["kinds"] == [
        {"kind": 1, "needs": "cores=1 gpus=1 mem=8G", "cores": 1, "gpus": 1, "mem": 8 * 2**30,
         "tags": [], "resources": {}, "jobs": 20},
        {"kind": 2, "needs": "cores=1", "cores": 1, "gpus": 0, "mem": 0, "tags": [],
         "resources": {}, "jobs": 80},
    ]  # fmt: skip
    alpha, beta = shown["machines"]
    assert alpha["holds"] == {"cores": 8, "gpus": 2, "mem": 64 * 2**30, "tags": ["openfoam"]}
    assert alpha["kinds"] == [
        {"kind": 1, "share": 20, "start": 0, "stop": 20},
        {"kind": 2, "share": 30, "start": 0, "stop": 30},
    ]
    assert (beta["share"], "holds" in beta, "start" in beta) == (50, False, False)
    assert beta["kinds"][1] == {"kind": 2, "share": 50, "start": 30, "stop": 80}


def test_perfs_more_than_ten_times_apart_are_said_to_be_on_different_scales(
    tmp_path: Path,
) -> None:
    made = campaign(tmp_path, {"alpha": [96.9, 4], "beta": [1.0, 4], "gamma": [1.0, 8]}, [1])
    assert perf_scale_warning(made) == (
        f"perfs of {tmp_path / 'configs' / 'machines.json'} are on different scales (alpha 96.9"
        " is 97x beta 1); calibrate every machine (`calibrate --update` on each), or give them"
        " perfs of one scale"
    )


def test_perfs_within_ten_times_of_each_other_give_no_warning(tmp_path: Path) -> None:
    made = campaign(tmp_path, {"alpha": [10.0, 4], "beta": [1.0, 4]}, [1])
    assert perf_scale_warning(made) is None
