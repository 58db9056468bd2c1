"""The report as a person sees it: a real campaign's report.html rendered in headless Chromium.

Chromium writes every console message of the page to stderr as a CONSOLE
line (with `--enable-logging=stderr`): an uncaught exception, a console call,
a fetch that the page's Content-Security-Policy blocks. The report has no
script and loads nothing, so any CONSOLE line is an error. The checks are
first shown to catch a broken page, then run on the report.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from report_campaign import merged_campaign

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
