"""netprobe's echo backends against stock servers, one client, one run.

Every server runs in its own process and faces the same load client (100 connections, 1 KiB
ping-pong by default). Two comparisons, each with the ratio its goal is stated in:

- the selectors backend against a bare selectors loop (>= 0.8x) and a stock asyncio Protocol
  server (>= 3x);
- the asyncio backend against a stock asyncio streams server written the obvious way (>= 0.9x),
  with the RSS each idle connection costs the server.

Round trips/s are limited by whichever side saturates its core first, so the server's CPU time
per round trip is printed too: it is the fair cost comparison when the client is the bottleneck
(as it is on a 2-core machine against the fast servers).
"""

from __future__ import annotations

import argparse
import os
import sys

from netprobe.bench.echo_bench import run_one
from netprobe.clients.registry import CLIENTS
from netprobe.models import EchoRun
from netprobe.servers.registry import BACKENDS

HERE = os.path.dirname(os.path.abspath(__file__))


ROWS = ("bare selectors loop", "stock asyncio Protocol", "netprobe selectors backend", "stock asyncio streams",
        "netprobe asyncio backend")


def measure(clients: int, size: int, duration: float, rows: tuple[str, ...] = ROWS) -> dict[str, EchoRun]:
    """One run of each server in ``rows`` against the same load client, in that order."""
    client = CLIENTS.get("nonblocking")
    servers = {
        # The spec still travels to the baseline server, which speaks the same stdio protocol and ignores it.
        "bare selectors loop": ("selectors", [sys.executable, os.path.join(HERE, "baseline_servers.py"), "bare"]),
        "stock asyncio Protocol": ("selectors", [sys.executable, os.path.join(HERE, "baseline_servers.py"),
                                                 "asyncio"]),
        "netprobe selectors backend": ("selectors", None),
        "stock asyncio streams": ("selectors", [sys.executable, os.path.join(HERE, "baseline_servers.py"),
                                                "streams"]),
        "netprobe asyncio backend": ("asyncio", None),
    }
    return {name: run_one(BACKENDS.get(servers[name][0]), clients, size, duration, client,
                          server_command=servers[name][1]) for name in rows}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    rows = measure(args.clients, args.size, args.duration)
    print(f"{'':28} {'round trips/s':>14} {'server CPU':>11} {'CPU µs/trip':>12} {'client CPU':>11} "
          f"{'RSS/idle conn':>14}")
    cost = {}
    for name, r in rows.items():
        if r.error:
            print(f"{name:28} failed: {r.error}")
            return 1
        cost[name] = r.server_cpu / 100 / r.round_trips_per_s * 1e6
        print(f"{name:28} {r.round_trips_per_s:14,.0f} {r.server_cpu:10.0f}% {cost[name]:12.1f} "
              f"{r.client_cpu:10.0f}% {r.rss_per_connection:12,.0f} B{' client-bound' if r.client_bound else ''}")

    def rate(name: str) -> float:
        return rows[name].round_trips_per_s

    ours_cost, ours_rate = cost["netprobe selectors backend"], rate("netprobe selectors backend")
    print(f"round trips/s: netprobe / bare = {ours_rate / rate('bare selectors loop'):.2f} (goal >= 0.8)")
    print(f"round trips/s: netprobe / asyncio = {ours_rate / rate('stock asyncio Protocol'):.2f} (goal >= 3)")
    print(f"server CPU per round trip: bare / netprobe = {cost['bare selectors loop'] / ours_cost:.2f}, "
          f"asyncio / netprobe = {cost['stock asyncio Protocol'] / ours_cost:.2f}")
    print(f"round trips/s: netprobe asyncio backend / stock streams = "
          f"{rate('netprobe asyncio backend') / rate('stock asyncio streams'):.2f} (goal >= 0.9)")
    if any(r.client_bound for r in rows.values()):
        print("the load client used a whole core in some runs: those rates are the client's ceiling")
    return 0


if __name__ == "__main__":
    sys.exit(main())
