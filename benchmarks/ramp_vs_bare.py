"""Ramp throughput and memory against a bare connect()/accept() loop, measured in the same run.

Prints connections/s and RSS per connection for: the bare loop (the baseline), netprobe's
default ramp (nonblocking client, server child process, echo check on every connection),
and the threads and gevent client models; then the ratios the goals are stated in.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import socket
import statistics
import struct
import subprocess
import sys
import time

import psutil

from netprobe.ramp.options import RampOptions, build_ramp_spec
from netprobe.ramp.runner import run_ramp

LINGER_ZERO = struct.pack("ii", 1, 0)


def bare_loop(n: int) -> tuple[float, float]:
    """Connections per second and RSS bytes per pair of a plain blocking connect+accept loop."""
    me = psutil.Process()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(socket.SOMAXCONN)
    address = listener.getsockname()
    keep = []
    gc.collect()
    rss0 = me.memory_info().rss
    start = time.perf_counter()
    for _ in range(n):
        client = socket.socket()
        client.connect(address)
        server, _ = listener.accept()
        keep += (client, server)
    elapsed = time.perf_counter() - start
    rss = me.memory_info().rss - rss0
    for sock in keep:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ZERO)
        sock.close()
    listener.close()
    return n / elapsed, rss / n


def ramp_figures(n: int, client: str = "nonblocking", placement: str = "process") -> tuple[float, float, float]:
    """(connections/s over the steps, RSS bytes per connection on both sides, seconds of steps)."""
    result = run_ramp(build_ramp_spec(RampOptions(to=n, step=max(1, n // 9), client=client, placement=placement)))
    if not result.ok:
        raise SystemExit(f"ramp --to {n} --client {client} stopped: {result.stop}")
    steps = result.steps
    seconds = sum(s.seconds for s in steps)
    first, last = steps[0], steps[-1]
    grown = last.connections - first.connections
    client_rss = (last.client_rss - first.client_rss) / grown
    server_rss = 0 if last.server_rss is None else (last.server_rss - first.server_rss) / grown
    return n / seconds, client_rss + server_rss, seconds


def _measure(kind: str, n: int) -> tuple[float, float, float]:
    """Run one measurement in a fresh interpreter, so no run reuses memory another one freed."""
    out = subprocess.run([sys.executable, __file__, "--one", kind, "--connections", str(n)],
                         capture_output=True, text=True, check=True).stdout
    return tuple(json.loads(out.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=9000)
    parser.add_argument("--models", type=int, default=2000, help="connections for the threads/gevent rows")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    n = args.connections
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2 * n + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2 * n + 100), hard))
    if args.one:
        if args.one == "bare":
            figures = bare_loop(n) + (0.0,)
        elif args.one == "thread":
            figures = ramp_figures(n, "nonblocking", "thread")
        else:
            figures = ramp_figures(n, args.one)
        print(json.dumps(figures))
        return 0

    bare = [_measure("bare", n) for _ in range(args.repeat)]
    runs = [_measure("nonblocking", n) for _ in range(args.repeat)]
    halves = [_measure("nonblocking", n // 2) for _ in range(args.repeat)]
    inline = [_measure("thread", n) for _ in range(args.repeat)]
    threads = _measure("threads", args.models)
    gevent = _measure("gevent", args.models)
    bare_rate = statistics.median(b[0] for b in bare)
    bare_mem = statistics.median(b[1] for b in bare)
    ramp_rate = statistics.median(r[0] for r in runs)
    ramp_mem = statistics.median(r[1] for r in runs)
    linear = statistics.median(r[2] for r in runs) / statistics.median(h[2] for h in halves)
    thread_rate = statistics.median(r[0] for r in inline)

    print(f"{'(medians of ' + str(args.repeat) + ' runs)':34} {'conn/s':>10} {'RSS/conn B':>11}")
    print(f"{'bare connect+accept loop':34} {bare_rate:10,.0f} {bare_mem:11,.0f}")
    print(f"{'ramp nonblocking, echo checked':34} {ramp_rate:10,.0f} {ramp_mem:11,.0f}")
    print(f"{'ramp --placement thread':34} {thread_rate:10,.0f} {statistics.median(r[1] for r in inline):11,.0f}")
    print(f"{'ramp threads (' + str(args.models) + ')':34} {threads[0]:10,.0f} {threads[1]:11,.0f}")
    print(f"{'ramp gevent (' + str(args.models) + ')':34} {gevent[0]:10,.0f} {gevent[1]:11,.0f}")
    rate_ratio = ramp_rate / bare_rate
    mem_ratio = ramp_mem / bare_mem
    print(f"rate: ramp / bare = {rate_ratio:.2f} (goal >= 0.6)")
    print(f"memory: ramp / bare per connection = {mem_ratio:.2f} (goal <= 2)")
    print(f"linearity: time({n}) / time({n // 2}) = {linear:.2f} (goal <= 2.3)")
    thread_ratio = thread_rate / bare_rate
    print(f"rate: ramp --placement thread / bare = {thread_ratio:.2f} (goal >= 0.5)")
    return 0 if rate_ratio >= 0.6 and mem_ratio <= 2 and linear <= 2.3 and thread_ratio >= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
