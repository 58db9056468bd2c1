"""Tests for splitter.campaign.needs: what a job needs, parsed, checked and grouped into kinds."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from splitter.campaign.needs import Needs, format_size, needs_of, parse_needs
from splitter.errors import UsageError

GIB = 2**30


def needs_error(spec: dict[str, Any]) -> str:
    with pytest.raises(UsageError) as caught:
        parse_needs(spec, "job 3")
    return str(caught.value)


def test_a_job_needs_one_core_by_default() -> None:
    assert parse_needs({}, "job 0") == Needs(cores=1, gpus=0, mem=0, tags=(), resources=())


def test_a_python_dict_gives_every_field() -> None:
    spec = {"cores": 4, "gpus": 1, "mem": "8G", "tags": ["openfoam", "cuda"], "licences": 2}
    assert parse_needs(spec, "job 0") == Needs(
        4, 1, 8 * GIB, ("cuda", "openfoam"), (("licences", 2),)
    )


def test_a_task_files_text_values_give_the_same_needs() -> None:
    text = {"cores": "4", "gpus": "1", "mem": "8G", "tags": ("openfoam", "cuda"), "licences": "2"}
    python = {"cores": 4, "gpus": 1, "mem": "8G", "tags": ["cuda", "openfoam"], "licences": 2}
    assert parse_needs(text, "tasks.txt line 2") == parse_needs(python, "job 0")


def test_zero_named_counts_and_zero_gpus_are_no_need() -> None:
    assert parse_needs({"gpus": 0, "licences": 0, "mem": "0G"}, "job 0") == Needs()


def test_canonical_is_a_tuple_of_plain_values() -> None:
    needs = parse_needs({"cores": 2, "mem": "1K", "tags": ["b", "a"], "lic": 1}, "job 0")
    assert needs.canonical() == (2, 0, 1024, ("a", "b"), (("lic", 1),))


def test_describe_writes_the_needs_as_a_task_file_would() -> None:
    needs = parse_needs({"cores": 4, "gpus": 1, "mem": "1.5G", "tags": ["openfoam"]}, "job 0")
    assert needs.describe() == "cores=4 gpus=1 mem=1.5G tags=openfoam"
    assert Needs().describe() == "cores=1"


@pytest.mark.parametrize(
    ("size", "shown"),
    [(0, "0"), (512, "512B"), (2048, "2K"), (8 * GIB, "8G"), (8 * 10**9, "7.45G"), (2**41, "2T")],
)
def test_format_size_uses_the_largest_1024_based_unit(size: int, shown: str) -> None:
    assert format_size(size) == shown


BAD_NEEDS = [
    pytest.param(
        {"cores": 0},
        "job 3 needs cores=0, but cores must be a whole number of at least 1, like cores=2",
        id="zero-cores",
    ),
    pytest.param(
        {"cores": 1.5},
        "job 3 needs cores=1.5, but cores must be a whole number of at least 1, like cores=2",
        id="fractional-cores",
    ),
    pytest.param(
        {"cores": True},
        "job 3 needs cores=True, but cores must be a whole number of at least 1, like cores=2",
        id="bool-cores",
    ),
    pytest.param(
        {"gpus": "-1"},
        "job 3 needs gpus='-1', but gpus must be a whole number, 0 or more, like gpus=1",
        id="negative-gpus",
    ),
    pytest.param(
        {"mem": "8 gigs"},
        "job 3 needs mem='8 gigs', but mem must be a size with a unit, like mem=8G "
        "(K, M, G, T count in 1024s, KB, MB, GB, TB in 1000s)",
        id="unknown-unit",
    ),
    pytest.param(
        {"mem": 8},
        "job 3 needs mem=8, but mem must be a size with a unit, like mem=8G "
        "(K, M, G, T count in 1024s, KB, MB, GB, TB in 1000s)",
        id="mem-without-unit",
    ),
    pytest.param(
        {"tags": "openfoam"},
        "job 3 needs tags='openfoam', but tags must be a list of names (letters, digits, "
        "'.', '_', '+' and '-'), like tags=['openfoam']",
        id="tags-not-a-list",
    ),
    pytest.param(
        {"tags": ["open foam"]},
        "job 3 needs tags=['open foam'], but tags must be a list of names (letters, digits, "
        "'.', '_', '+' and '-'), like tags=['openfoam']",
        id="tag-with-space",
    ),
    pytest.param(
        {"licences": 2.5},
        "job 3 needs licences=2.5, but licences must be a whole number, 0 or more, "
        "like licences=1",
        id="fractional-named-count",
    ),
    pytest.param(
        {"Cores": 4},
        "job 3 needs Cores=4, but 'Cores' reads like cores; write cores in lower case",
        id="field-in-capitals",
    ),
    pytest.param(
        {"perf": 2},
        "job 3 needs perf=2, but perf is a machine's speed in machines.json, not a job's "
        "need; remove it",
        id="perf",
    ),
    pytest.param(
        {"my licence": 1},
        "job 3 needs my licence=1, but 'my licence' is not a name of letters, digits and '_' "
        "starting with a letter (it becomes an environment variable); rename it, like licences",
        id="name-with-space",
    ),
    pytest.param(
        {"lic": 1, "LIC": 2},
        "job 3 needs both lic and LIC, which differ only in letter case (both would be one "
        "environment variable); keep one of them",
        id="names-differing-in-case",
    ),
]


@pytest.mark.parametrize(("spec", "message"), BAD_NEEDS)
def test_bad_needs_are_one_sentence_naming_the_job_and_the_fix(
    spec: dict[str, Any], message: str
) -> None:
    assert needs_error(spec) == message


def test_no_needs_make_one_kind_of_one_core() -> None:
    kinds, kind_of_job = needs_of(range(5), None)
    assert kinds == (Needs(),)
    assert kind_of_job.tolist() == [0, 0, 0, 0, 0]


def test_one_dict_is_one_kind_for_every_job() -> None:
    kinds, kind_of_job = needs_of(["a", "b"], {"cores": 2})
    assert kinds == (Needs(cores=2),)
    assert kind_of_job.dtype == np.int32
    assert kind_of_job.tolist() == [0, 0]


def test_one_bad_dict_names_every_job() -> None:
    with pytest.raises(UsageError, match=r"^every job needs cores=0, but"):
        needs_of(range(3), {"cores": 0})


def test_a_function_of_the_item_groups_jobs_into_kinds_in_first_seen_order() -> None:
    kinds, kind_of_job = needs_of([5, 1, 6, 2, 5], lambda item: {"cores": 1 + item % 2})
    assert kinds == (Needs(cores=2), Needs(cores=1))
    assert kind_of_job.tolist() == [0, 0, 1, 1, 0]


def test_a_function_may_return_needs_themselves() -> None:
    kinds, kind_of_job = needs_of([1, 2], lambda item: Needs(cores=item))
    assert kinds == (Needs(cores=1), Needs(cores=2))
    assert kind_of_job.tolist() == [0, 1]


def test_equal_needs_written_differently_are_one_kind() -> None:
    specs = [{"tags": ["a", "b"], "cores": 2}, {"cores": "2", "tags": ("b", "a")}]
    kinds, kind_of_job = needs_of([0, 1], lambda item: specs[item])
    assert kinds == (Needs(cores=2, tags=("a", "b")),)
    assert kind_of_job.tolist() == [0, 0]


def test_true_is_not_taken_for_a_cached_one() -> None:
    specs = [{"cores": 1}, {"cores": True}]
    with pytest.raises(UsageError, match=r"^job 1 needs cores=True, but"):
        needs_of([0, 1], lambda item: specs[item])


def test_a_function_that_raises_names_the_job() -> None:
    def needs(item: int) -> dict[str, int]:
        return {"cores": 10 // item}

    with pytest.raises(UsageError) as caught:
        needs_of([2, 0, 1], needs)
    assert str(caught.value) == (
        "the needs function raised ZeroDivisionError (integer division or modulo by zero) on "
        'job 1; make it return a dict like {"cores": 4, "gpus": 1, "mem": "8G", "tags": '
        '["openfoam"]} for every item'
    )


def test_a_function_that_returns_another_type_names_the_job() -> None:
    with pytest.raises(UsageError) as caught:
        needs_of(["a", "b"], lambda item: None if item == "b" else {})
    assert str(caught.value) == (
        "the needs function returned NoneType for job 1, but it must return a dict like "
        '{"cores": 4, "gpus": 1, "mem": "8G", "tags": ["openfoam"]}'
    )


def test_a_bad_dict_from_the_function_names_the_job() -> None:
    with pytest.raises(UsageError, match=r"^job 2 needs mem='8 gigs', but"):
        needs_of([0, 0, 1], lambda item: {"mem": "8G" if item == 0 else "8 gigs"})


def test_needs_that_are_neither_dict_nor_function_are_refused() -> None:
    with pytest.raises(UsageError) as caught:
        needs_of([0], 4)  # type: ignore[arg-type]
    assert str(caught.value) == (
        "needs= is int, but it must be a dict for every job or a function of the item "
        'returning one, like needs={"cores": 4, "gpus": 1, "mem": "8G", "tags": ["openfoam"]}'
    )


def test_a_constant_is_one_kind_for_a_million_items_without_calls() -> None:
    kinds, kind_of_job = needs_of(range(10**6), {"cores": 2, "mem": "1G"})
    assert kinds == (Needs(cores=2, mem=GIB),)
    assert len(kind_of_job) == 10**6 and not kind_of_job.any()


@given(st.lists(st.integers(0, 3), max_size=50))
def test_kinds_rebuild_every_jobs_needs(items: list[int]) -> None:
    kinds, kind_of_job = needs_of(items, lambda item: {"cores": item + 1})
    assert [kinds[kind].cores for kind in kind_of_job] == [item + 1 for item in items]
    assert len(set(kinds)) == len(kinds)
