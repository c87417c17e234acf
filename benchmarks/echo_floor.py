"""How far any echo server could get past the bare selectors loop: the kernel's share of each round trip.

An echo round trip costs the server a recv() and a send() (and its share of an epoll wait) in the
kernel whatever language it is written in; only the rest is the server's own code. This runs the
bare selectors loop and netprobe's selectors backend, each against the same load (100
connections in 1 KiB ping-pong from a lean epoll loop in this process), and splits each server's
CPU per round trip into user and kernel time. A server that spent nothing in user space would
be (user + kernel) / kernel times faster than the bare loop: the most any rewrite can gain while
it makes the same system calls. Linux only (it reads the server's user and system time apart).

    python benchmarks/echo_floor.py [--seconds 4] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import statistics
import sys
import time

import psutil

from netprobe import platform
from netprobe.servers.process import ChildServer
from netprobe.servers.registry import BACKENDS, ServerOptions
from netprobe.servers.spec import ServerSpec

HERE = os.path.dirname(os.path.abspath(__file__))
CONNECTIONS, SIZE = 100, 1024
SERVERS = {
    "bare selectors loop": [sys.executable, os.path.join(HERE, "baseline_servers.py"), "bare"],
    "netprobe selectors backend": None,
}


def ping_pong(address: tuple[str, int], seconds: float) -> int:
    """Round trips on ``CONNECTIONS`` connections for ``seconds``, from the leanest loop Python has."""
    poller = select.epoll()
    socks: dict[int, socket.socket] = {}
    payload = b"x" * SIZE
    try:
        for _ in range(CONNECTIONS):
            sock = socket.create_connection(address)
            sock.setblocking(False)
            socks[sock.fileno()] = sock
            poller.register(sock.fileno(), select.EPOLLIN)
        got = dict.fromkeys(socks, 0)
        for sock in socks.values():
            sock.send(payload)
        trips, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            for fd, _ in poller.poll(0.05):
                got[fd] += len(socks[fd].recv(65536))
                if got[fd] >= SIZE:
                    got[fd] = 0
                    trips += 1
                    socks[fd].send(payload)
        return trips
    finally:
        for sock in socks.values():
            sock.close()
        poller.close()


def measure(name: str, seconds: float) -> tuple[float, float, float]:
    """(round trips/s, the server's user µs and kernel µs per round trip)."""
    spec = ServerSpec(backend=BACKENDS.get("selectors"), options=ServerOptions(), want_fds=CONNECTIONS + 64)
    server = ChildServer(spec, command=SERVERS[name])
    try:
        proc = psutil.Process(server.pid)
        before = proc.cpu_times()
        started = time.perf_counter()
        trips = ping_pong(server.addresses[0], seconds)
        elapsed = time.perf_counter() - started
        after = proc.cpu_times()
    finally:
        server.close()
    return trips / elapsed, 1e6 * (after.user - before.user) / trips, 1e6 * (after.system - before.system) / trips


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if platform.NAME != "linux":
        print("echo_floor.py reads a server's user and kernel time apart: Linux only", file=sys.stderr)
        return 2
    rows: dict[str, list[tuple[float, float, float]]] = {name: [] for name in SERVERS}
    for _ in range(args.runs):  # interleaved, so a change in the machine's load touches both alike
        for name in SERVERS:
            rows[name].append(measure(name, args.seconds))
    print(f"{CONNECTIONS} connections, {SIZE} B ping-pong, {args.runs} interleaved runs of {args.seconds:g} s, medians")
    print(f"{'server':28} {'round trips/s':>14} {'user µs/trip':>13} {'kernel µs/trip':>15}")
    medians = {}
    for name, runs in rows.items():
        medians[name] = tuple(statistics.median(run[i] for run in runs) for i in range(3))
        rate, user, kernel = medians[name]
        print(f"{name:28} {rate:14,.0f} {user:13.2f} {kernel:15.2f}")
    _, user, kernel = medians["bare selectors loop"]
    print(f"a server with no user time at all would be {(user + kernel) / kernel:.2f}x the bare loop "
          f"(its kernel share: {kernel / (user + kernel):.0%} of each round trip)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
