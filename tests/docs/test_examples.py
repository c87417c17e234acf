"""Every example under docs/examples runs and prints exactly what docs/concurrency.md says it prints."""

from __future__ import annotations

import subprocess
import sys

import pytest

from netprobe import platform
from tests.conftest import ROOT

EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.py"))
# Examples that show a POSIX behaviour (fd-number caps, RLIMIT_NOFILE).
POSIX_ONLY = {"select_fd_setsize.py"}


def test_every_example_has_its_expected_output():
    assert EXAMPLES
    for example in EXAMPLES:
        assert example.with_suffix(".out").exists(), f"{example.name} has no .out file"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_prints_what_the_docs_say(example):
    if example.name in POSIX_ONLY and not platform.HAS_RLIMIT:
        pytest.skip("shows a POSIX behaviour")
    result = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == example.with_suffix(".out").read_text("utf-8")


def test_the_guide_shows_each_example_and_its_output():
    guide = (ROOT / "docs" / "concurrency.md").read_text("utf-8")
    for example in EXAMPLES:
        assert f"examples/{example.name}" in guide
        for line in example.with_suffix(".out").read_text("utf-8").splitlines():
            assert line in guide, f"{example.name}'s output line {line!r} is not in the guide"
