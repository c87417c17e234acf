"""The CI workflow a maintainer would push: three OSes, the supported Pythons, actionlint-clean."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def _declared_pythons() -> list[str]:
    text = (ROOT / "pyproject.toml").read_text()
    return re.findall(r'"Programming Language :: Python :: (3\.\d+)"', text)


def test_matrix_covers_three_oses_and_the_declared_pythons():
    text = WORKFLOW.read_text()
    for os_name in ("ubuntu-latest", "macos-latest", "windows-latest"):
        assert os_name in text
    declared = _declared_pythons()
    assert declared, "pyproject.toml declares no Python versions"
    matrix = re.search(r'python: \[(.*?)\]', text).group(1)
    assert [v.strip().strip('"') for v in matrix.split(",")] == declared
    floor = re.search(r'requires-python = ">=(3\.\d+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert declared[0] == floor


def test_workflow_runs_the_ci_scripts_and_report():
    text = WORKFLOW.read_text()
    assert "ci/matrix_job.py" in text and "ci/summary.py" in text
    assert "netprobe report" in text
    for script in ("matrix_job.py", "summary.py"):
        assert (ROOT / "ci" / script).exists()


def test_actionlint_passes():
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (the test extra installs it on Linux x86_64)")
    result = subprocess.run([actionlint, str(WORKFLOW)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_needs_nothing_newer_than_the_declared_floor():
    vermin = shutil.which("vermin", path=str(Path(sys.executable).parent)) or shutil.which("vermin")
    if vermin is None:
        pytest.skip("vermin is not installed")
    floor = re.search(r'requires-python = ">=(3\.\d+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    result = subprocess.run(
        [vermin, "--no-tips", "--eval-annotations", "--backport", "typing", f"--target={floor}-",
         "--violations", str(ROOT / "netprobe"), str(ROOT / "ci")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_job_checks_the_select_headline_of_its_os(tmp_path):
    """A job fails when select() does not stop where netprobe says it does on that OS."""
    sys.path.insert(0, str(ROOT / "ci"))
    try:
        import matrix_job
    finally:
        sys.path.pop(0)
    assert "--selector" in (ROOT / "ci" / "matrix_job.py").read_text()

    def ramp(reached, reason="select_limit"):
        path = tmp_path / f"{reached}-{reason}.json"
        path.write_text(json.dumps({"reached": reached, "stop": {"reason": reason, "side": "server"}}))
        return str(path)

    assert matrix_job.headline(ramp(511), "windows") == 0
    assert matrix_job.headline(ramp(1020), "linux") == 0 and matrix_job.headline(ramp(1020), "macos") == 0
    assert matrix_job.headline(ramp(1020), "windows") == 1  # Windows must be capped by count
    assert matrix_job.headline(ramp(2000, "fd_limit"), "linux") == 1


def test_windows_gates_with_a_backend_select_does_not_cap():
    text = WORKFLOW.read_text()
    windows = text[text.index("- os: windows-latest"):]
    assert "backend: asyncio" in windows.split("- os:")[1]
    assert "allow-prereleases: true" in text and "continue-on-error: ${{ matrix.experimental }}" in text
