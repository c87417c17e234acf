"""A worker of a distributed ramp: holds its share of connections with netprobe's gevent client.

Run as ``netprobe worker --master HOST:PORT`` (or ``python -m netprobe.dist.worker``). It reports
who it is and what it can hold, then on each ``np_hold`` opens and verifies connections until it
holds the count asked, and answers with what it holds and its first failure: the errno, the
stop it means on this machine, and what it held and had in flight then. Counting its fds at a
failure needs no new fd (at EMFILE it could not open /proc/self/fd): it counts what it opened.
"""

from __future__ import annotations

import argparse
import os
import platform as _stdlib_platform
import signal
import socket
import sys
import time
from typing import Any, Optional

from netprobe import __version__, platform
from netprobe.dist import import_locust
from netprobe.sockets import check_destination, parse_host_port
from netprobe.vocabulary import Message, Side, Verify

PAYLOAD = b"netprobe ping\n"
BATCH = 128


def wait_for_master(host: str, port: int, seconds: float) -> bool:
    """Whether anything accepts at the master's address within ``seconds`` (a bounded wait, not locust's 5 min)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)


class Worker:
    """One worker's connections and its answers to the master."""

    def __init__(self, runner: Any, source_ips: list[str]) -> None:
        self.runner = runner
        self.source_ips = source_ips
        self.client: Any = None
        self.fds_at_start = platform.process_fds(_me()) or 0
        self.refused: Optional[str] = None
        runner.register_message(Message.HOLD, self.on_hold, concurrent=True)
        runner.register_message(Message.CLOSE, self.on_close)
        runner.register_message(Message.REFUSE, self.on_refuse)

    def identity(self) -> dict[str, Any]:
        import locust

        soft, hard, _ = platform.fd_limits()
        facts = platform.read_system_facts()
        from netprobe.selector_catalog import default_selector

        return {"id": self.runner.client_id, "host": socket.gethostname(), "pid": os.getpid(),
                "netprobe": __version__, "locust": locust.__version__,
                "python": _stdlib_platform.python_version(), "system": _stdlib_platform.system(),
                "soft_fds": soft, "hard_fds": hard, "fds_at_start": self.fds_at_start,
                "port_low": facts.port_low, "port_high": facts.port_high, "ports": facts.port_count,
                "source_ips": self.source_ips, "selector": default_selector()}

    def on_hold(self, environment: Any, msg: Any) -> None:
        from netprobe.clients.base import BatchOutcome
        from netprobe.ramp.runner import classify_stop

        data = msg.data
        if self.client is None:
            from netprobe.clients.gevent_client import GeventClient

            target = (data["host"], data["port"])
            self.client = GeventClient([target], self.source_ips or None, PAYLOAD, Verify(data["verify"]), BATCH)
        client = self.client
        want = data["goal"] - client.held
        in_flight = max(0, want)
        out = client.open(want, data["timeout"], lambda: False) if want > 0 else BatchOutcome()
        failure = None
        if not out.clean:
            reason, side, errno_name, message = classify_stop(out, None, None, data["timeout"])
            failure = {"reason": reason, "side": side, "errno": errno_name, "message": message,
                       "held": client.held, "in_flight": in_flight - out.verified,
                       "remedy": platform.remedy(reason, side, platform.fd_limits()[1])}
        self.runner.send_message(Message.HELD, {
            "step": data["step"], "held": client.held, "latencies": list(out.latencies_ms),
            "failure": failure, "fds": self.fds_at_start + client.sockets_open, "rss": _rss()})

    def on_close(self, environment: Any, msg: Any) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def on_refuse(self, environment: Any, msg: Any) -> None:
        self.refused = msg.data["why"]
        self.runner.greenlet.kill(block=False)


def _me():
    import psutil

    return psutil.Process()


def _rss() -> Optional[int]:
    """This process's RSS; None where reading it needs an fd the process does not have (EMFILE)."""
    try:
        return _me().memory_info().rss
    except OSError:
        return None


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="netprobe worker")
    parser.add_argument("--master", required=True)
    parser.add_argument("--source-ip", action="append", default=[])
    parser.add_argument("--fd-limit", type=int, default=None)
    parser.add_argument("--wait", type=float, default=30.0)
    parser.add_argument("--allow-remote", action="store_true")
    args = parser.parse_args(argv)
    # Ctrl-C in a terminal reaches the whole process group: the master alone handles it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    host, port = parse_host_port(args.master, "--master")
    host = check_destination(host, args.allow_remote, "--master")
    if args.fd_limit is not None:
        platform.set_soft_fd_limit(args.fd_limit)
    if not wait_for_master(host, port, args.wait):
        sys.stderr.write(f"netprobe worker: no master at {host}:{port} after {args.wait:g} s\n")
        return 1
    locust = import_locust()
    environment = locust.env.Environment(user_classes=[])
    runner = environment.create_worker_runner(host, port)
    worker = Worker(runner, args.source_ip)
    runner.send_message(Message.HELLO, worker.identity())
    from gevent.exceptions import LoopExit

    try:
        runner.greenlet.join()
    except LoopExit:
        pass  # the master's "quit" killed every greenlet of the runner: nothing is left to wait for
    if worker.client is not None:
        worker.client.close()
    if worker.refused:
        sys.stderr.write(f"netprobe worker: the master refused this worker: {worker.refused}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
