"""End-to-end: `merge --report` and `splitter report M` on a real campaign, as a user runs them."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import run_module
from report_campaign import FAILING, SIZE, merged_campaign


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A merged campaign (root/merged) whose merge also wrote the report."""
    root = tmp_path_factory.mktemp("report")
    merged = merged_campaign(root, "--report")
    assert merged.returncode == 0, merged.stderr
    assert merged.stdout.splitlines()[-1] == (
        f"report of {SIZE} jobs written to {Path('merged') / 'report.html'}"
    )
    return root


def test_merge_with_report_writes_report_html(campaign: Path) -> None:
    page = (campaign / "merged" / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    ok = SIZE - len(FAILING)
    assert f'{SIZE} jobs expected: <span class="good">{ok} ok</span>' in page


def test_report_command_writes_to_out(campaign: Path) -> None:
    done = run_module(["report", "merged", "--out", "pictures/campaign.html"], campaign)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"report of {SIZE} jobs written to pictures/campaign.html\n"
    page = (campaign / "pictures" / "campaign.html").read_text(encoding="utf-8")
    for title in ("The campaign", "Machines", "Timeline", "Throughput per host",
                  "Declared vs observed capacity", "Job durations", "Results", "Failures",
                  "Slowest jobs", "Versions"):  # fmt: skip
        assert f"<h2>{title}</h2>" in page
    # Timeline, throughput, declared vs observed capacity (the manifests carry it), durations,
    # the result values.
    assert page.count("<svg") == 5


def test_report_groups_the_failures_by_message_with_numbers_masked(campaign: Path) -> None:
    page = (campaign / "merged" / "report.html").read_text(encoding="utf-8")
    first = FAILING[0]
    assert (
        f'<tr><td class="n">{len(FAILING)}</td><td>error</td><td><code>ValueError: job N refuses'
        f" second line</code></td><td><code>ValueError: job {first} refuses second line</code>"
        f"</td><td>{', '.join(map(str, FAILING))}</td><td><code>{first}</code></td></tr>"
    ) in page
    assert (
        f'<tr><td><code>ValueError</code></td><td class="n">{len(FAILING)}</td>'
        '<td class="n">1</td></tr>'
    ) in page


def test_report_names_the_versions_that_made_it(campaign: Path) -> None:
    import matplotlib

    from splitter.version import __version__

    page = (campaign / "merged" / "report.html").read_text(encoding="utf-8")
    assert f"Made by splitter {__version__}, matplotlib {matplotlib.__version__}, " in page


def test_report_loads_nothing_from_outside(campaign: Path) -> None:
    page = (campaign / "merged" / "report.html").read_text(encoding="utf-8")
    # The SVGs refer to their own parts (href="#id"); nothing else is referred to.
    references = re.findall(r"(?:src|href)\s*=\s*\"([^\"]*)\"", page)
    assert references and [ref for ref in references if not ref.startswith("#")] == []
    assert len(re.findall(r"(?:src|href)\s*=", page)) == len(references)
    assert "<script" not in page
    assert "@import" not in page and "url(" not in page.replace("url(#", "")


def test_report_of_a_folder_that_is_not_merged_exits_2(tmp_path: Path) -> None:
    done = run_module(["report", "nowhere"], tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        "splitter: error: nowhere has no report.json; pass the folder that"
        " `merge DIR... --out M` wrote (M), or merge first\n"
    )


def test_report_without_matplotlib_says_how_to_install_it(campaign: Path, tmp_path: Path) -> None:
    # A package named matplotlib that cannot be imported, first on the path.
    blocker = tmp_path / "blocker" / "matplotlib"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('matplotlib is blocked')\n")
    done = run_module(["report", "merged"], campaign, env={"PYTHONPATH": str(blocker.parent)})
    assert done.returncode == 2
    assert done.stderr == (
        "splitter: error: the report needs matplotlib, which is not installed; install it with"
        " `pip install 'splitter[report]'` (or `pip install matplotlib`)\n"
    )


def _with_manifest_fields(campaign: Path, fields: dict[str, dict[str, object]]) -> None:
    """Older manifests, with no history of runs: `fields` are their only run's."""
    for machine, extra in fields.items():
        path = campaign / "out" / machine / "manifest.json"
        manifest = {**json.loads(path.read_text()), **extra}
        del manifest["runs"]
        path.write_text(json.dumps(manifest))


def test_declared_capacity_from_the_manifests_is_drawn(campaign: Path, tmp_path: Path) -> None:
    campaign = shutil.copytree(campaign, tmp_path / "campaign")  # its manifests change
    # A report.json from before merge measured capacity: only the manifests carry it.
    report_path = campaign / "merged" / "report.json"
    report = json.loads(report_path.read_text())
    del report["capacity"]
    report_path.write_text(json.dumps(report))
    _with_manifest_fields(
        campaign,
        {"alpha": {"perf": 1.0, "cores": 2, "busy_seconds": 1.0, "jobs_done": 12,
                   "wall_seconds": 2.0},
         "beta": {"perf": 1.5, "cores": 2, "busy_seconds": 1.0, "jobs_done": 18,
                  "wall_seconds": 2.0}},
    )  # fmt: skip
    done = run_module(["report", "merged", "--out", "declared.html"], campaign)
    assert done.returncode == 0, done.stderr
    page = (campaign / "declared.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 5
    for machine, declared, observed in (("alpha", "2", "6"), ("beta", "3", "9")):
        assert (
            f'<tr><td>{machine}</td><td class="n">{declared}</td><td class="n">{observed}</td>'
            "<td>manifest.json</td></tr>"
        ) in page


def test_declared_capacity_from_report_json_comes_first(campaign: Path) -> None:
    report_path = campaign / "merged" / "report.json"
    report = json.loads(report_path.read_text())
    report["capacity"] = {
        "alpha": {"declared": 2.0, "observed_jobs_per_s": 20.0, "wall_seconds": 0.6,
                  "late_seconds": 0.0},
        "beta": {"declared": 3.0, "observed_jobs_per_s": 30.0, "wall_seconds": 0.6,
                 "late_seconds": 0.0},
    }  # fmt: skip
    copy = campaign / "with-capacity"
    shutil.copytree(campaign / "merged", copy)
    (copy / "report.json").write_text(json.dumps(report))
    done = run_module(["report", "with-capacity"], campaign)
    assert done.returncode == 0, done.stderr
    page = (copy / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 5
    assert (
        '<tr><td>beta</td><td class="n">3</td><td class="n">30</td><td>report.json</td></tr>'
        in page
    )


def test_merge_report_with_missing_jobs_still_writes_it_and_exits_4(campaign: Path) -> None:
    done = run_module(["merge", "out/alpha", "--out", "alpha-only", "--report"], campaign)
    assert done.returncode == 4
    page = (campaign / "alpha-only" / "report.html").read_text(encoding="utf-8")
    report = json.loads((campaign / "alpha-only" / "report.json").read_text())
    missing = len(report["missing"])
    assert missing > 0
    assert f'<span class="bad">{missing} missing</span>' in page


def _replace(path: Path, kind: str) -> str:
    """Put a FIFO, /dev/zero or an 8 GiB sparse file at `path`; what the error says it is."""
    path.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
        return "is a FIFO (named pipe), not a regular file; splitter reads only the files it wrote"
    if kind == "zero":
        path.symlink_to("/dev/zero")
        return "is a device, not a regular file; splitter reads only the files it wrote"
    with path.open("wb") as f:
        f.truncate(8 << 30)
    if path.name == "report.json":
        return "is larger than 256 MiB, more than splitter ever writes there"
    if path.suffix == ".zst":
        return r"is not a zstd file (it starts with b'\x00\x00\x00\x00')"
    return "has no splitter results header (its first line is '\\x00"


@pytest.mark.parametrize("kind", ["fifo", "zero", "sparse"])
@pytest.mark.parametrize("name", ["report.json", "results.csv.zst", "results.csv"])
def test_report_of_a_fifo_a_device_or_a_huge_file_exits_2_at_once(
    campaign: Path, tmp_path: Path, name: str, kind: str
) -> None:
    merged = shutil.copytree(campaign / "merged", tmp_path / "merged")
    if name == "results.csv":  # a `merge --plain` folder
        (merged / "results.csv.zst").unlink()
    problem = _replace(merged / name, kind)
    done = run_module(["report", str(merged)], tmp_path, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith(f"splitter: error: {merged / name} {problem}"), done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_report_refuses_an_out_that_is_a_hosts_results(campaign: Path) -> None:
    results = campaign / "out" / "alpha" / "results.csv.zst"
    before = results.read_bytes()
    done = run_module(["report", "merged", "--out", "out/alpha/results.csv.zst"], campaign)
    assert done.returncode == 2
    assert done.stderr == (
        "splitter: error: out/alpha/results.csv.zst exists and is not a report that `splitter"
        " report` wrote; pass an --out that is new or an earlier report, or move that file"
        " aside\n"
    )
    assert results.read_bytes() == before


def test_report_replaces_the_report_it_wrote_before(campaign: Path) -> None:
    done = run_module(["report", "merged"], campaign)  # merge --report wrote the first one
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"report of {SIZE} jobs written to {Path('merged') / 'report.html'}\n"
