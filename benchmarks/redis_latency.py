"""netprobe's latency under traffic beside redis-benchmark's, against the same redis, at its concurrency and rate.

redis-benchmark (Debian's redis-tools) is closed-loop: ``-c`` connections each send PING as soon
as the last reply is in, so its throughput is whatever the pair manages. netprobe then holds the
same number of connections to the same redis and asks that throughput with ``--total-rate`` (its
latency counts from when each request was due, so it is no better than a closed loop's). Both
print requests a second achieved, p50, p99 and the client's CPU per request; the last column is
netprobe's figure over redis-benchmark's.

A closed loop never counts its own stalls: while its client or the machine is held up, it sends
nothing, so no request waits. An open-loop client counts them. So beside both, ``open_loop.c``
(built here with the system's C compiler) sends the same requests on netprobe's schedule, at the
same rates, with the least a client can do in C: the p99 any open-loop client meets on this
machine at that rate, and netprobe's over it. Each figure is the median of ``--repeat`` interleaved
rounds: two processes on two cores land on one core now and then, and a round that did shows a
p99 several times the others. Run from the checkout, alone on a quiet machine:

    python benchmarks/redis_latency.py [--connections 50] [--requests 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from anchors import build_anchors, children_cpu, free_port

ROOT = Path(__file__).resolve().parent.parent
EASED = 0.7  # the share of redis-benchmark's rate netprobe is also run at


def redis_benchmark(port: int, connections: int, requests: int) -> dict[str, float]:
    """redis-benchmark's PING_INLINE: rps, p50, p99 (ms) and CPU µs per request."""
    before = children_cpu()
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "ping", "-c", str(connections),
                          "-n", str(requests), "--csv"], capture_output=True, text=True, check=True).stdout
    cpu = children_cpu() - before
    rows = list(csv.DictReader(io.StringIO(out)))  # -t ping runs PING_INLINE and PING_MBULK: two runs' CPU
    row = next(r for r in rows if r["test"] == "PING_INLINE")
    return {"rps": float(row["rps"]), "p50": float(row["p50_latency_ms"]), "p99": float(row["p99_latency_ms"]),
            "cpu_us": 1e6 * cpu / (requests * len(rows))}


def netprobe(port: int, connections: int, rate: float, seconds: float) -> dict[str, float]:
    """netprobe holding ``connections`` to redis at ``rate`` PINGs a second in all, for ``seconds``."""
    proc = subprocess.run([sys.executable, "-m", "netprobe", "ramp", "--target", f"127.0.0.1:{port}", "--probe",
                           "redis", "--to", str(connections), "--step", str(connections), "--total-rate", str(rate),
                           "--hold", str(seconds), "--max-latency", "60000", "--quiet", "--format", "json"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    traffic = json.loads(proc.stdout)["steps"][-1]["traffic"]
    cpu_us = (traffic["client_cpu"] or 0) / 100 * traffic["seconds"] * 1e6 / max(1, traffic["answered"])
    return {"rps": traffic["achieved_rate"], "p50": traffic["p50_ms"], "p99": traffic["p99_ms"], "cpu_us": cpu_us}


def open_loop(program: Optional[Path], port: int, connections: int, rate: float, seconds: float
              ) -> Optional[dict[str, float]]:
    """The C open-loop client at ``rate`` PINGs a second over ``connections``; None where it could not run."""
    if program is None:
        return None
    out = subprocess.run([str(program), str(port), str(connections), str(rate), str(seconds), "PING\\r\\n",
                          "+PONG\\r\\n"], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        print(f"open_loop.c failed: {out.stderr.strip()}", file=sys.stderr)
        return None
    _sent, _answered, rps, p50, p99, _p999, _max, cpu_us = (float(x) for x in out.stdout.split())
    return {"rps": rps, "p50": p50, "p99": p99, "cpu_us": cpu_us}


def _median(rounds: list[Optional[dict[str, float]]]) -> Optional[dict[str, float]]:
    """Each figure's median over the rounds that gave one; None when none did."""
    given = [r for r in rounds if r is not None]
    return {key: statistics.median(r[key] for r in given) for key in given[0]} if given else None


def _cell(value: Optional[dict[str, float]], key: str, over: Optional[dict[str, float]] = None) -> str:
    """A figure, or a ratio of two ('unknown' where either is missing)."""
    if value is None or (over is not None and not over[key]):
        return "unknown"
    return f"{value[key] / over[key]:.2f}x" if over is not None else f"{value[key]:,.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        with tempfile.TemporaryDirectory(prefix="netprobe-open-loop-") as tmp:
            program = build_anchors(Path(__file__).resolve().parent, Path(tmp), ("open_loop",))["open_loop"]
            time.sleep(0.5)
            rounds = []
            for _ in range(args.repeat):
                theirs = redis_benchmark(port, args.connections, args.requests)
                rate = theirs["rps"]
                rounds.append((theirs, open_loop(program, port, args.connections, rate, args.seconds),
                               netprobe(port, args.connections, rate, args.seconds),
                               open_loop(program, port, args.connections, rate * EASED, args.seconds),
                               # One Python thread sends netprobe's load: where redis-benchmark's rate is past
                               # it, show where it is not.
                               netprobe(port, args.connections, rate * EASED, args.seconds)))
    finally:
        server.terminate()
        server.wait()
    theirs, c_full, ours, c_eased, eased = (_median([r[i] for r in rounds]) for i in range(5))
    print(f"{args.connections} connections to one redis, PING, at redis-benchmark's throughput and at "
          f"{EASED:.0%} of it (medians of {args.repeat} rounds)")
    print("| figure | redis-benchmark | C open loop | netprobe | / redis-benchmark | / C open loop "
          f"| C open loop at {EASED:.0%} | netprobe at {EASED:.0%} | / redis-benchmark | / C open loop |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key, name in (("rps", "requests/s achieved"), ("p50", "p50 ms"), ("p99", "p99 ms"),
                      ("cpu_us", "client CPU µs per request")):
        print(f"| {name} | {_cell(theirs, key)} | {_cell(c_full, key)} | {_cell(ours, key)} "
              f"| {_cell(ours, key, theirs)} | {_cell(ours, key, c_full)} | {_cell(c_eased, key)} "
              f"| {_cell(eased, key)} | {_cell(eased, key, theirs)} | {_cell(eased, key, c_eased)} |")


if __name__ == "__main__":
    main()
