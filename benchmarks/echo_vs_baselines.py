"""netprobe's selectors echo backend against a bare selectors loop and stock asyncio, one client, one run.

Every server runs in its own process and faces the same load client (100 connections, 1 KiB
ping-pong by default). Round trips/s are limited by whichever side saturates its core first,
so the server's CPU time per round trip is printed too: it is the fair cost comparison when
the client is the bottleneck (as it is on a 2-core machine against the fast servers).
"""

from __future__ import annotations

import argparse
import os
import sys

from netprobe.bench.echo_bench import run_one

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    baseline = [sys.executable, os.path.join(HERE, "baseline_servers.py")]
    rows = {
        "bare selectors loop": run_one("bare", args.clients, args.size, args.duration, "nonblocking",
                                       server_command=[*baseline, "bare"]),
        "stock asyncio Protocol": run_one("asyncio", args.clients, args.size, args.duration, "nonblocking",
                                          server_command=[*baseline, "asyncio"]),
        "netprobe selectors backend": run_one("selectors", args.clients, args.size, args.duration, "nonblocking"),
    }
    print(f"{'':28} {'round trips/s':>14} {'server CPU':>11} {'CPU µs/trip':>12} {'client CPU':>11}")
    cost = {}
    for name, r in rows.items():
        if r.error:
            print(f"{name:28} failed: {r.error}")
            return 1
        cost[name] = r.server_cpu / 100 / r.round_trips_per_s * 1e6
        print(f"{name:28} {r.round_trips_per_s:14,.0f} {r.server_cpu:10.0f}% {cost[name]:12.1f} "
              f"{r.client_cpu:10.0f}%{' client-bound' if r.client_bound else ''}")
    ours, bare, aio = (rows[k] for k in ("netprobe selectors backend", "bare selectors loop", "stock asyncio Protocol"))
    print(f"round trips/s: netprobe / bare = {ours.round_trips_per_s / bare.round_trips_per_s:.2f} (goal >= 0.8)")
    print(f"round trips/s: netprobe / asyncio = {ours.round_trips_per_s / aio.round_trips_per_s:.2f} (goal >= 3)")
    ours_cost = cost["netprobe selectors backend"]
    print(f"server CPU per round trip: bare / netprobe = {cost['bare selectors loop'] / ours_cost:.2f}, "
          f"asyncio / netprobe = {cost['stock asyncio Protocol'] / cost['netprobe selectors backend']:.2f}")
    if any(r.client_bound for r in rows.values()):
        print("the load client used a whole core in some runs: those rates are the client's ceiling")
    return 0


if __name__ == "__main__":
    sys.exit(main())
