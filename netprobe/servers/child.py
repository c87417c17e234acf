"""Run a server backend as a child process with its own fd budget.

Protocol on stdio, one JSON record per line: the parent writes the ``ServerSpec``; the child
answers with a ``ServerReady`` once listening, then answers each ``status`` order with its
``ServerStatus``; ``quit`` or the end of stdin (the controller died) stops it. Started by
``ramp`` and ``bench`` as ``python -m netprobe.servers.child``; imports neither psutil nor,
unless it runs the gevent backend, gevent.
"""

from __future__ import annotations

import signal
import sys

from netprobe import platform
from netprobe.children import ChildOrder
from netprobe.errors import ExitStatus, NetprobeError
from netprobe.servers.base import ServerBase
from netprobe.servers.spec import ServerSpec
from netprobe.servers.status import ServerReady
from netprobe.vocabulary import ChildOp


def _write(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _apply_fd_budget(spec: ServerSpec) -> ServerReady:
    """Apply the spec's fd limit exactly, or raise the soft limit toward its ``want_fds``."""
    before, _, _ = platform.fd_limits()
    if spec.fd_limit is not None:
        platform.set_soft_fd_limit(spec.fd_limit)
        return ServerReady(soft=spec.fd_limit)
    if spec.want_fds and before is not None and before < spec.want_fds:
        return ServerReady(soft=platform.raise_soft_fd_limit(spec.want_fds), raised_from=before)
    return ServerReady(soft=before)


def _control_loop(server: ServerBase) -> None:
    for line in sys.stdin:
        order = ChildOrder.from_json(line, "an order")
        if order.op == ChildOp.STATUS:
            _write(server.status().to_json())
        elif order.op == ChildOp.QUIT:
            break
    server.stop()


def main() -> int:
    """Read the spec, start the server, serve until told to quit."""
    # Ctrl-C in a terminal reaches the whole process group; the controller alone handles it
    # and tells this child to quit (or closes its stdin).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        spec = ServerSpec.from_json(sys.stdin.readline(), "the server spec")
        budget = _apply_fd_budget(spec)
        server = spec.create()
    except (OSError, NetprobeError) as exc:
        _write(ServerReady(error=str(exc), errno=platform.errno_name(getattr(exc, "errno", None))).to_json())
        return ExitStatus.RUN_FAILED
    if spec.want_fds:
        platform.presize_fd_table(spec.want_fds)  # before the control thread starts
    try:
        _write(ServerReady(addresses=server.addresses, waits_with=server.waits_with, watch_cap=server.watch_cap,
                           soft=budget.soft, raised_from=budget.raised_from).to_json())
        server.start_control(lambda: _control_loop(server))
        server.serve()
    finally:
        server.close()
    return ExitStatus.SUCCESS


if __name__ == "__main__":
    from netprobe.children import run_child

    run_child(main)
