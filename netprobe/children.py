"""Starting netprobe's helper processes: one place turns the OS's refusal into a typed error.

Every child is this interpreter running one of netprobe's modules, fed a typed record on its
stdin; a ``fork``/``CreateProcess`` that fails (EAGAIN at RLIMIT_NPROC, EMFILE for its pipes,
ENOMEM, or Wine's ``[WinError 1359]``) is a ``ChildStartError`` naming the process, never a traceback.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from netprobe.errors import ChildStartError


def python_command(module: str) -> list[str]:
    """The command that runs ``module`` in this interpreter."""
    return [sys.executable, "-m", module]


def start_command(command: list[str], what: str, **popen: Any) -> subprocess.Popen[str]:
    """Start ``command`` with text streams as ``popen`` asks; ``what`` names it in the error."""
    try:
        return subprocess.Popen(command, text=True, **popen)
    except OSError as exc:
        raise ChildStartError(f"{what} could not be started: {exc.strerror or exc}") from None


def run_python(module: str, what: str, first_line: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``module`` to its end with ``first_line`` as its input, its output and errors captured."""
    child = start_command(python_command(module), what, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    with child:
        try:
            out, err = child.communicate(first_line + "\n", timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            raise
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)
