"""Distributed ramps against a single-process one, in the same run, on loopback.

Prints, for one `netprobe serve` target: connections/s over the steps and client RSS per held
connection of a single-process ramp with the gevent client, and of 2 local workers (the
master's sum of their RSS growth), then the ratios the goals are stated in:
memory per connection on a worker within 2x of the single-process gevent client's, and the
aggregate connect rate beside the single process's. Needs the dist extra.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

from netprobe.servers.process import ChildServer
from netprobe.servers.spec import ServerSpec


def ramp(target: str, n: int, *extra: str) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        done = subprocess.run([sys.executable, "-m", "netprobe", "ramp", "--target", target, "--to", str(n),
                               "--step", str(max(1, n // 10)), "--quiet", "--format", "json", "--output", out.name,
                               *extra], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"ramp {' '.join(extra)} failed: {done.stderr.strip()[-300:]}")
        return json.load(open(out.name))


def figures(result: dict) -> tuple[float, float]:
    steps = result["steps"]
    rate = result["reached"] / sum(s["seconds"] for s in steps)
    first, last = steps[0], steps[-1]
    per_conn = (last["client_rss"] - first["client_rss"]) / (last["connections"] - first["connections"])
    return rate, per_conn


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=10_000)
    args = parser.parse_args()
    server = ChildServer(ServerSpec(want_fds=args.connections + 1000))
    try:
        host, port = server.addresses[0]
        target = f"{host}:{port}"
        single = figures(ramp(target, args.connections, "--client", "gevent", "--verify", "connect"))
        dist = ramp(target, args.connections, "--workers", "2", "--spawn-local")
        assert dist["reached"] == args.connections, dist["stop"]
        spread = figures(dist)
    finally:
        server.close()
    print(f"{'':32} {'conn/s':>10} {'client RSS/conn B':>18}")
    print(f"{'single process, gevent client':32} {single[0]:10,.0f} {single[1]:18,.0f}")
    print(f"{'2 local workers (sum)':32} {spread[0]:10,.0f} {spread[1]:18,.0f}")
    print(f"memory per connection: workers / single gevent client = {spread[1] / single[1]:.2f} (goal <= 2)")
    print(f"connect rate: 2 workers / single process = {spread[0] / single[0]:.2f}")
    return 0 if spread[1] <= 2 * single[1] else 1


if __name__ == "__main__":
    sys.exit(main())
