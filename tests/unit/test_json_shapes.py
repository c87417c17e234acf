"""The JSON documents keep the key paths they had before the typed records, so no user's parser breaks."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DATA, run_netprobe
from tests.jsonshape import key_paths

SHAPES = DATA / "json_shapes"


@pytest.mark.parametrize("name, args", [
    ("limits", ["limits"]),
    ("ramp", ["ramp", "--to", "50"]),
    ("ramp_target", ["ramp", "--to", "50", "--target", "127.0.0.1:9"]),
    ("ceilings", ["ramp", "--backend", "all", "--to", "50"]),
])
def test_document_has_the_key_paths_it_always_had(name, args):
    proc = run_netprobe(*args, "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    expected = set(json.loads((SHAPES / f"{name}.json").read_text()))
    assert key_paths(json.loads(proc.stdout)) == expected
