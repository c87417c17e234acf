"""What re-checking every held connection costs a 10,000-connection ramp (issue 17: at most 10%).

After each step a ramp sweeps every held connection (one readiness call over all of them) and
reads the server's listen queue. This script ramps to --connections, then, holding as many
connections with the same client against the same server, times one sweep and one queue read,
and prints their cost over the ramp's steps against the ramp's own time, in one command.

    python benchmarks/recheck_cost.py [--connections 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

from netprobe import platform
from netprobe.clients.registry import CLIENTS
from netprobe.ramp.options import RampOptions, build_ramp_spec
from netprobe.ramp.runner import run_ramp
from netprobe.ramp.shape import PAYLOAD
from netprobe.servers.process import ChildServer
from netprobe.servers.spec import ServerSpec
from netprobe.vocabulary import Verify


def main() -> int:
    """Ramp, then time the re-checks over as many held connections; print the ratio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n = args.connections
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2 * n + 200), hard))

    ramps = [run_ramp(build_ramp_spec(RampOptions(to=n))) for _ in range(args.repeat)]
    assert all(r.ok for r in ramps), [r.verdict for r in ramps]
    ramp_seconds = statistics.median(r.seconds for r in ramps)
    steps = len(ramps[0].steps)

    server = ChildServer(ServerSpec(want_fds=n + 200))
    client = CLIENTS.get("nonblocking").create(server.addresses, None, PAYLOAD, Verify.ECHO, 1024)
    try:
        assert client.open(n, 10, lambda: False).clean and client.held == n
        sweeps, queues = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            found = client.sweep()
            sweeps.append(time.perf_counter() - t0)
            assert found.closed == 0
            t0 = time.perf_counter()
            platform.listener_at(server.addresses[0])
            queues.append(time.perf_counter() - t0)
    finally:
        client.close()
        server.close()
    sweep, queue = statistics.median(sweeps), statistics.median(queues)
    checks = steps * (sweep + queue)
    print(f"ramp to {n:,}: {ramp_seconds:.3f} s over {steps} steps (median of {args.repeat})")
    print(f"one sweep over {n:,} held connections: {sweep * 1e3:.3f} ms; one listen-queue read: {queue * 1e3:.3f} ms")
    print(f"re-checks / ramp time = {checks / ramp_seconds:.3f} (goal <= 0.10)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
