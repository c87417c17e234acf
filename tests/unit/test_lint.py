"""Lint and types are part of the build: ruff and mypy run with the project's own configuration."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import wine_differs

ROOT = Path(__file__).resolve().parents[2]


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (pip install '.[test]' brings it)")
    return path


def test_ruff_passes():
    result = subprocess.run([_tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]


@wine_differs("mypy's parser (ast_serialize, built with Rust) imports bcryptprimitives.dll, which Wine 8 lacks")
def test_mypy_passes():
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    if "No module named mypy" in result.stderr:
        pytest.skip("mypy is not installed (pip install '.[test]' brings it)")
    assert result.returncode == 0, result.stdout[-3000:]
