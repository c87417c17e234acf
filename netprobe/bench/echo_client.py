"""The load client of ``bench echo``, in a process of its own: N connections in ping-pong.

Run as ``python -m netprobe.bench.echo_client`` with an ``EchoLoadSpec`` as its first line of
input. Connects with the client model's own code (the one ``ramp`` uses), prints an
``EchoLoadReady`` once every connection is open, starts on a ``go`` line, prints an
``EchoLoadResult`` when the duration is over, and closes its connections on ``close`` (or at the
end of stdin), so the controller can sample the server while every connection is held.
"""

from __future__ import annotations

import sys
import time
from array import array
from collections.abc import Iterable
from typing import Optional

from netprobe.bench.messages import EchoLoadReady, EchoLoadResult, EchoLoadSpec
from netprobe.children import ChildOrder
from netprobe.clients.registry import CLIENTS
from netprobe.cpu import cpu_seconds
from netprobe.errors import ExitStatus
from netprobe.stats import percentiles
from netprobe.vocabulary import ChildOp, Verify

CONNECT_TIMEOUT = 10.0
LATENCY_POINTS = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999), ("max", 1.0))


def latency_summary(latencies: Iterable[float]) -> dict[str, Optional[float]]:
    """The percentiles every echo report shows, in milliseconds."""
    values = percentiles(latencies, [q for _, q in LATENCY_POINTS])
    return dict(zip((name for name, _ in LATENCY_POINTS), values))


def main() -> int:
    """Connect, wait for go, ping-pong for the duration, print the result, close on the end of stdin."""
    spec = EchoLoadSpec.from_json(sys.stdin.readline(), "the echo load's spec")
    import psutil

    client = CLIENTS.get(spec.model).create([(spec.host, spec.port)], None, b"", Verify.CONNECT, 128)
    try:
        opened = client.open(spec.clients, CONNECT_TIMEOUT, lambda: False)
        if not opened.clean or client.held != spec.clients:
            failure = opened.failure.message if opened.failure else "some connections did not complete"
            raise SystemExit(f"connected {client.held} of {spec.clients}: {failure}")
        print(EchoLoadReady(client.held).to_json(), flush=True)
        if ChildOrder.from_json(sys.stdin.readline(), "the go order").op != ChildOp.GO:
            return ExitStatus.RUN_FAILED
        me = psutil.Process()
        cpu0 = cpu_seconds(me)
        latencies = array("d")
        start = time.perf_counter()
        trips, errors = client.pingpong(b"x" * spec.size, start + spec.duration, latencies)
        elapsed = time.perf_counter() - start
        cpu = cpu_seconds(me) - cpu0
        result = EchoLoadResult(trips, elapsed, errors, round(100.0 * cpu / elapsed, 1), **latency_summary(latencies))
        print(result.to_json(), flush=True)
        sys.stdin.readline()  # "close", or the end of stdin
        return ExitStatus.SUCCESS
    finally:
        client.close()


if __name__ == "__main__":
    from netprobe.children import run_child

    run_child(main)
