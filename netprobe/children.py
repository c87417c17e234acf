"""netprobe's helper processes: which modules are processes, how they start, and what they are told.

Every child is this interpreter running one of the modules in ``CHILD_ENTRY_POINTS`` (each has a
``main()`` returning an ``ExitStatus``), fed a typed record on its stdin; later orders are
``ChildOrder`` records, one a line. A ``fork``/``CreateProcess`` that fails (EAGAIN at
RLIMIT_NPROC, EMFILE for its pipes, ENOMEM, or Wine's ``[WinError 1359]``) is a ``ChildStartError``
naming the process, never a traceback.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from netprobe.errors import ChildStartError, ExitStatus, RecordError
from netprobe.records import Record
from netprobe.vocabulary import ChildOp

# Every module netprobe runs as a process of its own, and what it is for: the one list to read.
CHILD_ENTRY_POINTS: dict[str, str] = {
    "netprobe.servers.child": "a server backend with its own fd budget (ramp, bench, serve --processes)",
    "netprobe.clients.spread": "a share of a spread ramp's connections, from its own source addresses",
    "netprobe.ramp.one": "one backend's ramp of ramp --backend all, in a fresh interpreter",
    "netprobe.distributed.master": "a distributed ramp's master on locust",
    "netprobe.distributed.worker": "a distributed ramp's worker on locust",
    "netprobe.bench.echo_client": "bench echo's load",
    "netprobe.bench.transfer_client": "bench transfer's clients",
    "netprobe.bench.models_child": "one concurrency model of bench models, monkey-patched apart",
}


@dataclass(frozen=True)
class ChildOrder(Record):
    """Parent to child, after its spec: one order, as a JSON line on the child's stdin."""

    op: ChildOp
    count: int = 0
    timeout: float = 0.0


def python_command(module: str) -> list[str]:
    """The command that runs ``module`` (one of ``CHILD_ENTRY_POINTS``) in this interpreter."""
    if module not in CHILD_ENTRY_POINTS:
        raise ValueError(f"{module} is not one of netprobe's child entry points")
    return [sys.executable, "-m", module]


def run_child(main: Callable[[], int]) -> NoReturn:
    """Run a child's ``main`` as its process: a record it cannot read ends it with one line on stderr.

    Its spec and orders come from its parent, so a garbled one means the parent died mid-line or
    has a bug; either way the child names the record in a line the parent can quote, and exits.
    """
    try:
        status = main()
    except RecordError as exc:
        started_as = getattr(sys.modules.get(main.__module__), "__spec__", None)  # __main__ under -m
        sys.stderr.write(f"{started_as.name if started_as else main.__module__}: {exc}\n")
        status = ExitStatus.RUN_FAILED
    sys.exit(status)


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
