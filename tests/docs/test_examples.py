"""Every example under docs/examples runs and prints exactly what docs/concurrency.md says it prints."""

from __future__ import annotations

import subprocess
import sys

import pytest

from netprobe import platform
from tests.conftest import ROOT, UNDER_WINE

EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.py"))
# Examples that show a POSIX behaviour (fd-number caps, RLIMIT_NOFILE).
POSIX_ONLY = {"select_fd_setsize.py"}
# Examples that hang under Wine, with what was seen there (docs/platforms.md lists each).
HANG_UNDER_WINE = {
    "sync_vs_async.py": "once its requests are served, gevent's libuv loop no longer wakes the example's "
                        "serve_forever(), so shutdown() never returns (on libev it does)",
}


def test_every_example_has_its_expected_output():
    assert EXAMPLES
    for example in EXAMPLES:
        assert example.with_suffix(".out").exists(), f"{example.name} has no .out file"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_prints_what_the_docs_say(example):
    if example.name in POSIX_ONLY and not platform.HAS_RLIMIT:
        pytest.skip("shows a POSIX behaviour")
    if UNDER_WINE and example.name in HANG_UNDER_WINE:
        pytest.skip(f"hangs under Wine: {HANG_UNDER_WINE[example.name]}")
    result = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == example.with_suffix(".out").read_text("utf-8")


def test_the_guide_shows_each_example_and_its_output():
    guide = (ROOT / "docs" / "concurrency.md").read_text("utf-8")
    for example in EXAMPLES:
        assert f"examples/{example.name}" in guide
        for line in example.with_suffix(".out").read_text("utf-8").splitlines():
            assert line in guide, f"{example.name}'s output line {line!r} is not in the guide"
