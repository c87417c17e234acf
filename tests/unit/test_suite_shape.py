"""The suite's own shape: README's command leaves out the slow set, which stays at most one test in ten."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import ROOT


def test_the_slow_set_is_at_most_one_test_in_ten():
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "slow", "-p",
                           "no:cacheprovider", "tests"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    counts = re.search(r"(\d+)/(\d+) tests collected", proc.stdout)
    assert counts is not None, proc.stdout[-500:] + proc.stderr[-500:]
    slow, every = int(counts[1]), int(counts[2])
    assert 0 < slow <= every / 10, f"{slow} of {every} tests are marked slow"


def test_readmes_test_command_leaves_the_slow_set_out():
    block = (ROOT / "README.md").read_text("utf-8").split("```")[1]
    command = block.strip().splitlines()[-1]
    assert "-m pytest" in command and "-m 'not slow'" in command, command
    assert "-m slow" in (ROOT / ".ci" / "run").read_text("utf-8")  # CI runs it
