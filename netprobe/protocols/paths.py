"""Paths a file client asks for, confined to the server's root before any file is opened."""

from __future__ import annotations

import os

from netprobe.errors import Refused

MAX_PATH = 1024
MAX_NAME = 255


def confine(root: str, relative: str) -> str:
    """Return the real path of ``relative`` inside ``root``, or raise Refused saying why not."""
    if not relative:
        raise Refused("empty path")
    if "\0" in relative:
        raise Refused("NUL byte in path")
    if len(relative.encode()) > MAX_PATH:
        raise Refused(f"path longer than {MAX_PATH} bytes")
    if relative.startswith(("/", "\\")) or (len(relative) > 1 and relative[1] == ":"):
        raise Refused("absolute path")
    parts = relative.replace("\\", "/").split("/")
    if any(p == ".." for p in parts):
        raise Refused("'..' in path")
    if any(len(p.encode()) > MAX_NAME for p in parts):
        raise Refused(f"name longer than {MAX_NAME} bytes")
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, *[p for p in parts if p not in ("", ".")]))
    if real == real_root or os.path.commonpath([real_root, real]) != real_root:
        raise Refused("path leads outside the root")
    return real
