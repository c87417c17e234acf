"""netprobe's asyncio backend against a stock asyncio streams echo server written the obvious way.

Both on the default event loop, each in its own process, facing the same load client (100
connections, 1 KiB ping-pong by default); prints round trips/s, the server's CPU per round trip,
and the RSS each idle connection costs the server, then the ratio the goal is stated in:
netprobe's asyncio backend at >= 0.9x the streams server's round trips/s.
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
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    baseline = [sys.executable, os.path.join(HERE, "baseline_servers.py"), "streams"]
    ratios = []
    for _ in range(args.repeat):
        streams = run_one("streams", args.clients, args.size, args.duration, "nonblocking", server_command=baseline)
        ours = run_one("asyncio", args.clients, args.size, args.duration, "nonblocking")
        for name, r in (("stock asyncio streams", streams), ("netprobe asyncio backend", ours)):
            if r.error:
                print(f"{name} failed: {r.error}")
                return 1
            per_trip = r.server_cpu / 100 / r.round_trips_per_s * 1e6
            print(f"{name:26} {r.round_trips_per_s:10,.0f} round trips/s  {per_trip:6.1f} CPU us/trip  "
                  f"{r.rss_per_connection:8,.0f} B RSS per idle connection")
        ratios.append(ours.round_trips_per_s / streams.round_trips_per_s)
    ratios.sort()
    median = ratios[len(ratios) // 2]
    print(f"round trips/s: netprobe asyncio / stock streams = {median:.2f} (median of {len(ratios)}; goal >= 0.9)")
    return 0 if median >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
