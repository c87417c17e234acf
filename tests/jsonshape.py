"""The shape of a JSON document as the set of its key paths (``steps[].connections``), for contract tests."""

from __future__ import annotations

from typing import Any


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path of ``value``: objects by key, list items merged under ``[]``."""
    paths: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            paths.add(path)
            paths |= key_paths(item, path)
    elif isinstance(value, list):
        for item in value:
            paths |= key_paths(item, f"{prefix}[]")
    return paths
