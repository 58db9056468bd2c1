"""The report as a person sees it: a real campaign's report.html rendered in headless Chromium.

Chromium writes every console message of the page to stderr as a CONSOLE
line (with `--enable-logging=stderr`): an uncaught exception, a console call,
a fetch that the page's Content-Security-Policy blocks. The report has no
script and loads nothing, so any CONSOLE line is an error. The checks are
first shown to catch a broken page, then run on the report.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from report_campaign import FAILING, lost_and_rescued, merged_campaign
from splitter.report.build import write_report
from splitter.store.frames import FrameWriter
from splitter.store.results import BASE_COLUMNS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed: apt-get install chromium"
)
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0",
)  # fmt: skip
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


@dataclass(frozen=True)
class Rendered:
    """A page's screenshot and the console messages it logged."""

    screenshot: Path
    console: list[str]


def render(page: Path, work: Path, size: str = "1000,2400") -> Rendered:
    """Open `page` in a fresh headless Chromium profile and screenshot it."""
    assert CHROMIUM is not None
    profile = work / f"profile-{page.stem}"
    profile.mkdir(parents=True)
    shot = work / f"{page.stem}.png"
    done = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size}",
         f"--screenshot={shot}", page.resolve().as_uri()],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0 and shot.exists(), done.stderr
    return Rendered(shot, [line for line in done.stderr.splitlines() if ":CONSOLE" in line])


def inked_share(screenshot: Path) -> float:
    """The share of the screenshot's pixels that differ from its most common colour."""
    from matplotlib.image import imread

    pixels = imread(screenshot)[:, :, :3].reshape(-1, 3)
    _, counts = np.unique(pixels, axis=0, return_counts=True)
    return 1.0 - counts.max() / len(pixels)


def write_page(folder: Path, body: str, *, csp: bool = True) -> Path:
    """A page with `body`, under the report's Content-Security-Policy if `csp`."""
    page = folder / f"page{len(list(folder.glob('*.html')))}.html"
    head = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' if csp else ""
    page.write_text(f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>")
    return page


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    root = tmp_path_factory.mktemp("browser")
    merged = merged_campaign(root, "--report")
    assert merged.returncode == 0, merged.stderr
    return render(root / "merged" / "report.html", root)


def test_the_console_check_catches_an_uncaught_exception(tmp_path: Path) -> None:
    body = "<p>text</p><script>throw new Error('boom')</script>"
    page = write_page(tmp_path, body, csp=False)  # the report's policy would block the script
    console = render(page, tmp_path, "400,300").console
    assert len(console) == 1 and '"Uncaught Error: boom"' in console[0]


def test_the_console_check_catches_a_blocked_fetch(tmp_path: Path) -> None:
    page = write_page(tmp_path, '<img src="http://example.invalid/x.png">')
    console = render(page, tmp_path, "400,300").console
    assert len(console) == 1 and "violates the following Content Security Policy" in console[0]


def test_the_blank_check_sees_a_blank_page(tmp_path: Path) -> None:
    rendered = render(write_page(tmp_path, ""), tmp_path, "400,300")
    assert rendered.console == []
    assert inked_share(rendered.screenshot) == 0.0


def test_the_report_logs_no_console_message(report: Rendered) -> None:
    assert report.console == []


def test_the_report_screenshot_is_not_blank(report: Rendered) -> None:
    # Text, tables and three plots cover well over a twentieth of the page.
    assert inked_share(report.screenshot) > 0.05


def dump_dom(page: Path, work: Path) -> str:
    """The DOM Chromium builds from `page`, serialised (`--dump-dom`)."""
    assert CHROMIUM is not None
    profile = work / f"dom-profile-{page.stem}"
    profile.mkdir(parents=True)
    done = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri()],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


class Elements(HTMLParser):
    """Every element of a serialised DOM with its attributes, and its text by element."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self.style_texts: list[str] = []
        self._in_style = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        (self.style_texts if self._in_style else self.texts).append(data)


# What an attacker puts into every field: elements, a refresh, attributes broken out of quotes.
HOSTILE = (
    "<img src=x onerror=alert(1)><style>body{display:none}</style>"
    "<form action=x><input type=password name=p></form>"
    '<meta http-equiv=refresh content="0;url=x">" onmouseover="alert(1)" x="'
    "' autofocus onfocus='alert(2)' x='</code></td></tr></table><iframe src=x>"
    "<svg onload=alert(3)><!-- ]]> $\\frac{1}{0}$"
)
# A folder name cannot hold a slash.
HOSTILE_NAME = '<img src=x onerror=alert(1)>" onmouseover="alert(1)" <b>$x$'


def hostile(tag: str) -> str:
    return f"{tag}{HOSTILE}"


def hostile_campaign(root: Path) -> tuple[Path, list[str]]:
    """A merged folder whose every field read from disk is hostile; the tags that mark them."""
    machine, lost = hostile("MACHINE"), hostile("LOST")
    host = root / f"HOSTFOLDER{HOSTILE_NAME}"
    partial = root / f"PARTIAL{HOSTILE_NAME}"
    merged = root / f"TITLE{HOSTILE_NAME}"
    for folder in (host, partial, merged):
        folder.mkdir()
    runs = [{"started": 100.0, "ended": 104.0, "jobs_done": 3, "busy_seconds": 3.0,
             "wall_seconds": 4.0, "workers": 2}]  # fmt: skip
    (host / "manifest.json").write_text(json.dumps({
        "machine": machine, "state": hostile("STATE"), "rescue": str(partial / "report.json"),
        "runs": runs, "paused_intervals": [[101.0, 102.0, hostile("REASON")]],
        "versions": {hostile("VERSIONKEY"): hostile("VERSION")}, "perf": 1.0, "cores": 2,
    }))  # fmt: skip
    (partial / "report.json").write_text(json.dumps({
        "missing": [0, 1], "machines_seen": [], "missing_by_machine": {lost: [0, 1]},
    }))  # fmt: skip
    header = [*BASE_COLUMNS, hostile("NUMBERS"), hostile("TEXTS")]
    rows = [
        [0, machine, "ok", 100.5, 2.0, "", "a" * 32, "", "", 1.5, hostile("CELL")],
        [1, machine, "error", 101.0, 1.0, hostile("ERROR"), "b" * 32, hostile("INPUT"), "", "",
         ""],
        [2, machine, "ok", 102.0, 1.5, "", "c" * 32, "", "", 2.5, "y"],
    ]  # fmt: skip
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([header, *rows])
    with FrameWriter(merged / "results.csv.zst", 1) as frames:
        frames.write_frame(text.getvalue().encode())
    (merged / "report.json").write_text(json.dumps({
        "digest": hostile("DIGEST"), "expected": 4, "ok": 2,
        "failed": {"error": 1, hostile("STATUS"): 1}, "missing": [3],
        "machines": [{"machine": machine, "folder": str(host), "rows": 3,
                      "state": hostile("FOLDERSTATE")}],
        "inputs": [str(host)], "machines_seen": [machine],
        "damaged": [{"file": hostile("FILE"), "problem": hostile("PROBLEM")}],
        "capacity": {machine: {"declared": 2.0, "observed_jobs_per_s": 0.75}},
        "missing_by_machine": {machine: [3]},
    }))  # fmt: skip
    tags = ["MACHINE", "LOST", "HOSTFOLDER", "PARTIAL", "TITLE", "STATE", "REASON",
            "VERSIONKEY", "VERSION", "NUMBERS", "TEXTS", "CELL", "ERROR", "INPUT", "DIGEST",
            "STATUS", "FOLDERSTATE", "FILE", "PROBLEM"]  # fmt: skip
    return merged, tags


def test_hostile_values_of_every_field_are_text_in_the_dom_never_elements(
    tmp_path: Path,
) -> None:
    merged, tags = hostile_campaign(tmp_path)
    result = write_report(merged, tmp_path / "hostile.html")
    assert result.warnings == ()
    dom = Elements(dump_dom(result.path, tmp_path))
    names = {tag for tag, _ in dom.elements}
    assert names.isdisjoint({"img", "form", "input", "iframe", "script", "a", "link"})
    assert [attrs for tag, attrs in dom.elements if tag == "b"] == [{"class": "bad"}]  # the lost
    refresh = [a for tag, a in dom.elements if tag == "meta" and a.get("http-equiv") == "refresh"]
    assert refresh == []
    attributes = {name for _, attrs in dom.elements for name in attrs}
    assert [name for name in attributes if name.startswith("on") or name == "autofocus"] == []
    assert not any("display:none" in text for text in dom.style_texts)
    shown = "".join(dom.texts)
    assert [tag for tag in tags if f"{tag}<img src=x onerror=alert(1)>" not in shown] == []
    assert shown.count("<form action=x><input type=password") >= len(tags) - 3  # folder names


class Sections(HTMLParser):
    """The text of each <section id=...> of a serialised DOM, SVG text included."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text: dict[str, str] = {}
        self._current: str | None = None
        self._skip = False  # inside a <style>: CSS, not text
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self._current = dict(attrs).get("id") or ""
            self.text[self._current] = ""
        self._skip = tag == "style"
        if tag in ("td", "th", "p", "text", "tspan", "tr") and self._current is not None:
            self.text[self._current] += " "

    def handle_endtag(self, tag: str) -> None:
        self._skip = False
        if tag == "section":
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current is not None and not self._skip:
            self.text[self._current] += data


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Rendered]:
    root = tmp_path_factory.mktemp("story")
    whole = lost_and_rescued(root)
    assert whole.returncode == 0, whole.stderr
    page = root / "whole" / "report.html"
    sections = Sections(dump_dom(page, root)).text
    return (
        root,
        {name: " ".join(text.split()) for name, text in sections.items()},
        render(page, root, "1000,4200"),
    )


def test_the_story_names_the_lost_host_its_jobs_and_who_rescued_them(
    story: tuple[Path, dict[str, str], Rendered],
) -> None:
    root, sections, _ = story
    partial = json.loads((root / "merged" / "report.json").read_text())
    lost = len(partial["missing"])
    text = sections["campaign"]
    assert (
        f"gamma was lost: the partial merge merged{os.sep}report.json had no folder of it and"
        f" listed {lost} of its jobs as missing"
    ) in text
    rescued = re.search(r"They were rescued by alpha \((\d+)\), beta \((\d+)\)\.", text)
    assert rescued is not None and int(rescued[1]) + int(rescued[2]) == lost
    assert "of them have no row yet" not in text


def test_the_runs_are_labelled_original_resumed_and_rescue(
    story: tuple[Path, dict[str, str], Rendered],
) -> None:
    _, sections, _ = story
    runs = re.findall(r" (out\S+) (original|resumed|rescue) ", sections["campaign"])
    kinds = sorted(kind for _, kind in runs)
    assert kinds == ["original", "original", "rescue", "rescue", "resumed"]
    assert "owner at the keyboard" in sections["campaign"]
    for legend in ("original run", "resumed run", "rescue run", "paused", "ok", "error"):
        assert f" {legend} " in sections["timeline"] + " "


def test_the_machines_show_utilisation_explained_in_a_line(
    story: tuple[Path, dict[str, str], Rendered],
) -> None:
    _, sections, _ = story
    for machine in ("alpha", "beta"):
        row = rf" {machine} \d+ \d+ \d+ [\d.]+ s [\d.]+ s 2 \d+% [\d.]+ manifest\.json "
        assert re.search(row, sections["machines"]), sections["machines"]
    assert "Utilisation is busy / (run time x workers)" in sections["machines"]


def test_the_results_and_failures_are_shown(
    story: tuple[Path, dict[str, str], Rendered],
) -> None:
    _, sections, _ = story
    for column in ("index", "draw", "square"):
        assert f" {column} " in sections["results"]
    assert "ValueError: job N refuses second line" in sections["failures"]
    assert f" {len(FAILING)} error ValueError: job N refuses" in sections["failures"]


def test_the_story_renders_cleanly(
    story: tuple[Path, dict[str, str], Rendered], capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, rendered = story
    assert rendered.console == []
    assert inked_share(rendered.screenshot) > 0.05
    with capsys.disabled():
        print(f"\nthe campaign report's screenshot: {rendered.screenshot}")
