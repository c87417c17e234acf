"""Write a rendered report to stdout or, atomically, to a file."""

from __future__ import annotations

import os
import sys
from typing import Optional

from netprobe.errors import UsageError


def check_writable(path: Optional[str]) -> None:
    """Fail before any work is done if ``path`` cannot be written."""
    if path is None:
        return
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"--output {path!r} is a directory")
    if not os.path.isdir(directory):
        raise UsageError(f"--output {path!r}: directory {directory!r} does not exist")
    if not os.access(directory, os.W_OK):
        raise UsageError(f"--output {path!r}: directory {directory!r} is not writable")


def emit(text: str, path: Optional[str]) -> None:
    """Print ``text``, or write it to ``path`` via a temporary file so no half-written report remains."""
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    import tempfile  # only when writing a file: it costs `limits` ~5 ms of start-up otherwise

    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".netprobe-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
