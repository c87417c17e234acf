"""Run a server backend as a child process with its own fd budget.

Protocol on stdio, one JSON object per line: the child prints ``{"ready": ...}`` once
listening, then answers each ``status`` line read from stdin with its counters;
``quit`` or the end of stdin (the controller died) stops it. Started by ``ramp`` and
``bench`` as ``python -m netprobe.servers.child``; imports neither psutil nor, unless it
runs the gevent backend, gevent.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys

from netprobe import platform
from netprobe.errors import NetprobeError


def _write(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _raise_soft_limit(args: argparse.Namespace) -> dict:
    """Apply --fd-limit exactly, or raise the soft limit toward --want-fds."""
    before, _, _ = platform.fd_limits()
    if args.fd_limit is not None:
        platform.set_soft_fd_limit(args.fd_limit)
        return {"soft": args.fd_limit, "raised_from": None}
    if args.want_fds and before is not None and before < args.want_fds:
        after = platform.raise_soft_fd_limit(args.want_fds)
        return {"soft": after, "raised_from": before}
    return {"soft": before, "raised_from": None}


def _control_loop(server) -> None:
    for line in sys.stdin:
        command = line.strip()
        if command == "status":
            _write(server.status().to_dict())
        elif command == "quit":
            break
    server.stop()


def _make_server(args: argparse.Namespace):
    from netprobe.protocols import make_protocol
    from netprobe.servers.registry import ServerOptions, make_backend

    protocol = make_protocol(args.protocol, args.root, args.max_file_size)
    options = ServerOptions(selector_class=args.selector, loop=args.loop)
    return make_backend(args.backend, protocol, args.host, args.port, args.ports, options)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="netprobe-server")
    parser.add_argument("--backend", default="selectors")
    parser.add_argument("--protocol", default="echo")
    parser.add_argument("--root", default=None)
    parser.add_argument("--max-file-size", type=int, default=None)
    parser.add_argument("--selector", default=None)
    parser.add_argument("--loop", default=None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ports", type=int, default=1)
    parser.add_argument("--fd-limit", type=int, default=None)
    parser.add_argument("--want-fds", type=int, default=None)
    args = parser.parse_args(argv)
    # Ctrl-C in a terminal reaches the whole process group; the controller alone handles it
    # and tells this child to quit (or closes its stdin).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        limits = _raise_soft_limit(args)
        server = _make_server(args)
    except (OSError, NetprobeError) as exc:
        _write({"error": str(exc), "errno": platform.errno_name(getattr(exc, "errno", None))})
        return 1
    if args.want_fds:
        platform.presize_fd_table(args.want_fds)  # before the control thread starts
    try:
        _write({"ready": True, "addresses": server.addresses, "selector": server.selector_label, **limits})
        server.start_control(lambda: _control_loop(server))
        server.serve()
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
