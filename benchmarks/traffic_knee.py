"""Where `ramp --rate 1` finds the knee of a server with a fixed CPU cost per reply, against its measured capacity.

A netprobe echo server burns ``--cost-us`` of CPU per reply (`serve --cost-us`). Its capacity is
measured first as the replies a second it gives 50 connections that each send again as soon as
their reply is in (a closed loop keeps the server busy all the time). Then `ramp --rate 1` adds
connections, each sending one request a second, until the knee: at ``--rate 1`` the connections
held at the knee are the requests a second the server could not keep up with. The ratio of the
two is the measure (1.00 = the knee exactly at capacity; the issue asks for within 10%). Run from
the checkout, alone on a quiet machine:

    python benchmarks/traffic_knee.py [--cost-us 2000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import selectors
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = b"k" * 64


def start_server(cost_us: int) -> tuple[subprocess.Popen[str], str]:
    """`netprobe serve --cost-us` in a child process; it prints its address first."""
    proc = subprocess.Popen([sys.executable, "-m", "netprobe", "serve", "--cost-us", str(cost_us)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def capacity(address: str, connections: int = 50, seconds: float = 3.0) -> float:
    """Replies a second the server gives ``connections`` closed-loop connections."""
    host, port = address.rsplit(":", 1)
    sel = selectors.DefaultSelector()
    socks = [socket.create_connection((host, int(port))) for _ in range(connections)]
    got = {s.fileno(): 0 for s in socks}
    for s in socks:
        s.setblocking(False)
        s.sendall(PAYLOAD)
        sel.register(s, selectors.EVENT_READ)
    replies = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for key, _ in sel.select(0.1):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            got[sock.fileno()] += len(sock.recv(65536))
            while got[sock.fileno()] >= len(PAYLOAD):
                got[sock.fileno()] -= len(PAYLOAD)
                replies += 1
                sock.send(PAYLOAD)
    for s in socks:
        sel.unregister(s)
        s.close()
    sel.close()
    return replies / seconds


def knee(address: str, step: int, most: int) -> dict:
    """`ramp --rate 1` against ``address``: its JSON document."""
    proc = subprocess.run([sys.executable, "-m", "netprobe", "ramp", "--target", address, "--verify", "echo",
                           "--rate", "1", "--step", str(step), "--hold", "2", "--max", str(most), "--quiet",
                           "--format", "json"], capture_output=True, text=True, cwd=ROOT, timeout=1800)
    return json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cost-us", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print("| run | capacity (replies/s, 50 closed-loop connections) | knee at (connections x 1/s) | ratio | cause |")
    print("|---|---|---|---|---|")
    for run in range(1, args.runs + 1):
        server, address = start_server(args.cost_us)
        try:
            cap = capacity(address)
            step = max(1, round(cap / 40))
            doc = knee(address, step, int(cap * 4))
        finally:
            server.terminate()
            server.wait()
        stop = doc.get("stop") or {}
        at = doc["reached"]
        print(f"| {run} | {cap:,.0f} | {at:,} | {at / cap:.2f} | {stop.get('reason')} ({stop.get('cause')}) |",
              flush=True)


if __name__ == "__main__":
    main()
