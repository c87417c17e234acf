"""The CI workflow a maintainer would push: three OSes, the supported Pythons, actionlint-clean."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def _declared_pythons() -> list[str]:
    text = (ROOT / "pyproject.toml").read_text("utf-8")
    return re.findall(r'"Programming Language :: Python :: (3\.\d+)"', text)


def test_matrix_covers_three_oses_and_the_declared_pythons():
    text = WORKFLOW.read_text("utf-8")
    for os_name in ("ubuntu-latest", "macos-latest", "windows-latest"):
        assert os_name in text
    declared = _declared_pythons()
    assert declared, "pyproject.toml declares no Python versions"
    matrix = re.search(r'python: \[(.*?)\]', text).group(1)
    assert [v.strip().strip('"') for v in matrix.split(",")] == declared
    floor = re.search(r'requires-python = ">=(3\.\d+)"', (ROOT / "pyproject.toml").read_text("utf-8")).group(1)
    assert declared[0] == floor


def test_workflow_measures_with_netprobes_own_action_and_reports():
    text = WORKFLOW.read_text("utf-8")
    assert text.count("uses: ./") == 2, "the target ramp and the select() headline both run the action"
    assert "ci/summary.py" in text and "netprobe report" in text
    for script in ("action.py", "summary.py"):
        assert (ROOT / "ci" / script).exists()


def test_actionlint_passes():
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (the test extra installs it on Linux x86_64)")
    result = subprocess.run([actionlint, str(WORKFLOW)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_needs_nothing_newer_than_the_declared_floor():
    vermin = shutil.which("vermin", path=str(Path(sys.executable).parent)) or shutil.which("vermin")
    if vermin is None:
        pytest.skip("vermin is not installed")
    floor = re.search(r'requires-python = ">=(3\.\d+)"', (ROOT / "pyproject.toml").read_text("utf-8")).group(1)
    result = subprocess.run(
        [vermin, "--no-tips", "--eval-annotations", "--backport", "typing", f"--target={floor}-",
         "--violations", str(ROOT / "netprobe"), str(ROOT / "ci")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_windows_gates_with_a_backend_select_does_not_cap():
    text = WORKFLOW.read_text("utf-8")
    windows = text[text.index("- os: windows-latest"):]
    assert "backend: asyncio" in windows.split("- os:")[1]
    assert "allow-prereleases: true" in text and "continue-on-error: ${{ matrix.experimental }}" in text
