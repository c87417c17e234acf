"""`report --format html`: one self-contained page, the machines side by side with their plots, safe to open.

The page is rendered in headless Chromium from the OS packages (.ci/run installs it): no console
error, a screenshot taken. Elsewhere that test skips and says why.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import run_netprobe


def _chromium():
    """Headless Chromium from the OS packages, or None (looked up when asked: the simulated lanes collect this file)."""
    return next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(name)), None)


class _Tags(HTMLParser):
    """Every tag and attribute of a page, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def ramp_files(tmp_path_factory) -> list[Path]:
    """Two real ramps, the second one's platform renamed as a hostile machine might name it."""
    here = tmp_path_factory.mktemp("html")
    files = [here / "a.json", here / "b.json"]
    for path, to in zip(files, ("200", "300")):
        done = run_netprobe("ramp", "--to", to, "--step", "50", "--quiet", "--format", "json", "-o", str(path))
        assert done.returncode == 0, done.stderr
    data = json.loads(files[1].read_text("utf-8"))
    data["platform"]["system"] = "<script>alert(1)</script>\u202e"
    files[1].write_text(json.dumps(data), "utf-8")
    return files


def _page(ramp_files, tmp_path) -> Path:
    page = tmp_path / "report.html"
    done = run_netprobe("report", *map(str, ramp_files), "--format", "html", "-o", str(page))
    assert done.returncode == 0, done.stderr
    return page


def test_the_page_needs_nothing_else_and_escapes_what_other_machines_wrote(ramp_files, tmp_path):
    text = _page(ramp_files, tmp_path).read_text("utf-8")
    parsed = _Tags()
    parsed.feed(text)
    tags = [tag for tag, _ in parsed.tags]
    assert tags.count("svg") == 2 and tags.count("table") == 2 and "script" not in tags
    assert not [attrs for _, attrs in parsed.tags if {"src", "href"} & set(attrs)]  # nothing loaded from anywhere
    policy = [a["content"] for t, a in parsed.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert policy == ["default-src 'none'; style-src 'unsafe-inline'"]
    shown = "".join(parsed.text)
    assert "<script>alert(1)</script>\\u202e" in shown and "\u202e" not in text
    assert "Linux" in shown or "Darwin" in shown or "Windows" in shown  # the other column, side by side


def test_the_page_renders_in_headless_chromium_without_a_console_error(ramp_files, tmp_path):
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no Chromium here (apt-get install chromium): the page is not rendered")
    page = _page(ramp_files, tmp_path)
    shot = tmp_path / "shot.png"
    done = subprocess.run([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--log-level=0",
                           f"--screenshot={shot}", "--window-size=1000,1600", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert done.returncode == 0 and not console, (done.returncode, console or done.stderr[-2000:])
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
