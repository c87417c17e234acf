"""The JSON documents keep every key path they had before the typed records, so no user's parser breaks.

Keys are only ever added within a schema version, and each added one is documented in docs/json.md.
"""

from __future__ import annotations

import json

import pytest

from netprobe.selector_catalog import available_selectors
from tests.conftest import DATA, ROOT, run_netprobe
from tests.jsonshape import key_paths

SHAPES = DATA / "json_shapes"


def _lacked_here(path: str) -> bool:
    """Whether ``path`` is a selector's entry in ``selectors.caps`` (keyed by class) that this OS does not have."""
    parts = path.split(".")
    return parts[:2] == ["selectors", "caps"] and len(parts) > 2 and parts[2] not in available_selectors()


@pytest.mark.parametrize("name, args", [
    ("limits", ["limits"]),
    ("ramp", ["ramp", "--to", "50"]),
    ("ramp_target", ["ramp", "--to", "50", "--target", "127.0.0.1:9"]),
    ("ceilings", None),  # the shared ``ramp --backend all --to 50`` (tests/conftest.py)
])
def test_document_has_the_key_paths_it_always_had(name, args, request):
    if args is None:
        document = request.getfixturevalue("ceilings_document")
    else:
        proc = run_netprobe(*args, "--format", "json")
        assert proc.returncode in (0, 1), proc.stderr
        document = proc.stdout
    expected = set(json.loads((SHAPES / f"{name}.json").read_text("utf-8")))
    paths = key_paths(json.loads(document))
    gone = {path for path in expected - paths if not _lacked_here(path)}
    assert not gone, f"keys gone: {sorted(gone)}"
    documented = (ROOT / "docs" / "json.md").read_text("utf-8")
    added = {path.rsplit(".", 1)[-1] for path in paths - expected}
    assert not {key for key in added if f"`{key}`" not in documented and f".{key}`" not in documented}, added
