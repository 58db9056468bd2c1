"""Tests for splitter.merge.reportids: the job ids a rescue takes from a merge report."""

from __future__ import annotations

from pathlib import Path

import pytest

from splitter.errors import ConfigError
from splitter.merge.reportids import rescue_ids

REPORT = Path("M/report.json")
AGAIN = "merge again to rewrite the report"


def test_missing_then_failed_ids_are_taken_in_report_order() -> None:
    report = {"missing": [4, 1], "failed_ids": {"error": [7], "crashed": [0, 9]}}
    assert rescue_ids(report, REPORT, 10, retry_failed=False) == [4, 1]
    assert rescue_ids(report, REPORT, 10, retry_failed=True) == [4, 1, 7, 0, 9]


@pytest.mark.parametrize(
    ("value", "shown"),
    [("x", "'x'"), (600, "600"), (10, "10"), (-1, "-1"), (1e300, "1e+300"), (1.5, "1.5"),
     (True, "True"), (None, "None")],
)  # fmt: skip
def test_a_missing_entry_that_is_not_a_job_id_is_named(value: object, shown: str) -> None:
    with pytest.raises(ConfigError) as caught:
        rescue_ids({"missing": [0, value]}, REPORT, 10, retry_failed=False)
    assert str(caught.value) == (
        f"{REPORT} lists {shown} in 'missing', which is not a job id of this campaign"
        f" (a whole number from 0 to 9); {AGAIN}"
    )


def test_a_failed_id_that_is_not_a_job_id_names_its_status() -> None:
    with pytest.raises(ConfigError) as caught:
        rescue_ids({"missing": [], "failed_ids": {"error": [True]}}, REPORT, 10, True)
    assert str(caught.value) == (
        f"{REPORT} lists True in 'failed_ids' 'error', which is not a job id of this campaign"
        f" (a whole number from 0 to 9); {AGAIN}"
    )


def test_failed_ids_as_a_list_is_named() -> None:
    with pytest.raises(ConfigError) as caught:
        rescue_ids({"missing": [], "failed_ids": [3]}, REPORT, 10, retry_failed=True)
    assert str(caught.value) == (
        f"{REPORT} has 'failed_ids' as a list, not an object of status: [job ids]; {AGAIN}"
    )


def test_a_status_whose_failed_ids_are_not_a_list_is_named() -> None:
    with pytest.raises(ConfigError) as caught:
        rescue_ids({"missing": [], "failed_ids": {"error": 3}}, REPORT, 10, retry_failed=True)
    assert str(caught.value) == (
        f"{REPORT} has 'failed_ids' 'error' as a number, not a list of job ids; {AGAIN}"
    )
