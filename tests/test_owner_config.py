"""Tests for splitter.ini's [owner] section: checked at load, and left out of the plan digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_configs
from splitter.campaign.config import config_content, parse_config, runner_settings
from splitter.campaign.hours import parse_hours
from splitter.campaign.load import load_campaign, locate_configs
from splitter.campaign.owner import OwnerSettings
from splitter.errors import ConfigError

SOURCE = "configs/splitter.ini"


def owner_of(text: str) -> OwnerSettings:
    return runner_settings(parse_config(text, SOURCE), SOURCE).owner


def test_no_owner_section_means_no_rule() -> None:
    owner = owner_of("[job]\nsteps = 1\n")
    assert owner == OwnerSettings()
    assert not owner.any_rule


def test_every_owner_option_is_read_and_typed() -> None:
    owner = owner_of(
        "[owner]\nmax_load = 1.5\nidle_minutes = 15\nhours = weekdays 19:00-07:00, weekends\n"
        "grace = 0\nrunning_jobs = Finish\ncheck_interval = 0.5\n"
    )
    assert owner == OwnerSettings(
        max_load=1.5, idle_minutes=15.0, hours=parse_hours("weekdays 19:00-07:00, weekends"),
        grace=0.0, running_jobs="finish", check_interval=0.5,
    )  # fmt: skip
    assert owner.any_rule


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("max_load = -1", "[owner] max_load = '-1' is not a number of cores above 0, or empty "
         "for no such rule; write e.g. max_load = 2"),
        ("idle_minutes = soon", "[owner] idle_minutes = 'soon' is not a number of minutes above"
         " 0, or empty for no such rule; write e.g. idle_minutes = 15"),
        ("hours = 7pm-7am", "[owner] hours = '7pm-7am' is not a list of windows like "
         "'19:00-07:00' or 'weekdays 19:00-07:00, weekends' ('7pm' in '7pm-7am' is not a time "
         "like 07:00); write e.g. hours = 19:00-07:00"),
        ("grace = -5", "[owner] grace = '-5' is not a number of seconds, or 0 to continue as "
         "soon as the rules clear; write e.g. grace = 60"),
        ("running_jobs = kill", "[owner] running_jobs = 'kill' is not stop (in place, memory "
         "kept) or finish (start no new job); write e.g. running_jobs = stop"),
        ("check_interval = 0", "[owner] check_interval = '0' is not a number of seconds above "
         "0; write e.g. check_interval = 5"),
    ],
)  # fmt: skip
def test_a_malformed_owner_option_is_one_sentence_naming_file_value_and_fix(
    line: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        owner_of(f"[owner]\n{line}\n")
    assert str(caught.value) == f"{SOURCE}: {message}"


def test_an_unknown_owner_option_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        owner_of("[owner]\nmax_lod = 2\n")
    assert str(caught.value) == (
        f"{SOURCE}: [owner] has no option 'max_lod' (known: max_load, idle_minutes, hours, "
        "grace, running_jobs, check_interval); fix the spelling or move it to a section of "
        "your own"
    )


def test_the_owner_section_is_not_part_of_the_digest_content() -> None:
    plain = config_content(parse_config("[job]\nsteps = 1\n", SOURCE))
    owned = config_content(
        parse_config("[job]\nsteps = 1\n[owner]\nmax_load = 2\nhours = 19:00-07:00\n", SOURCE)
    )
    assert owned == plain
    assert "owner" not in plain


def test_two_desks_with_their_own_owner_policies_share_the_plan_digest(tmp_path: Path) -> None:
    desk = write_configs(tmp_path / "desk", config="[job]\nsteps = 1\n[owner]\nmax_load = 1\n")
    other = write_configs(tmp_path / "other", config="[job]\nsteps = 1\n[owner]\nhours = sat\n")
    bare = write_configs(tmp_path / "bare", config="[job]\nsteps = 1\n")
    digests = {
        load_campaign(locate_configs(folder), list(range(5))).plan.digest
        for folder in (desk, other, bare)
    }
    assert len(digests) == 1


def test_jobs_still_see_the_owner_section_in_their_config() -> None:
    parser = parse_config("[owner]\nmax_load = 2\n", SOURCE)
    assert parser.get("owner", "max_load") == "2"
