"""The load client of ``bench echo``, in a process of its own: N connections in ping-pong.

Run as ``python -m netprobe.bench.echo_client HOST PORT CLIENTS SIZE DURATION MODEL``.
Prints ``{"connected": N}`` once every connection is open, starts on a ``go`` line, prints one
JSON result line when the duration is over, and closes its connections on ``close`` (or at
the end of stdin), so the controller can sample the server while every connection is held.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from array import array


def _percentiles(latencies: array) -> dict:
    from netprobe.bench.stats import percentile

    ordered = sorted(latencies)
    return {name: percentile(ordered, q, 4) for name, q in
            (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999), ("max", 1.0))}


def run_nonblocking(socks, payload: bytes, deadline: float, latencies: array) -> tuple[int, int]:
    import selectors

    size = len(payload)
    sel = selectors.DefaultSelector()
    state = {}
    errors = 0
    for s in socks:
        s.setblocking(False)
        state[s.fileno()] = [s, 0, time.perf_counter(), 0]  # sock, received, sent_at, unsent
        sent = s.send(payload)
        state[s.fileno()][3] = size - sent
        sel.register(s, selectors.EVENT_READ | (selectors.EVENT_WRITE if sent < size else 0))
    trips = 0
    while time.perf_counter() < deadline and state:
        for key, mask in sel.select(0.05):
            st = state.get(key.fd)
            if st is None:
                continue
            s = st[0]
            try:
                if mask & selectors.EVENT_WRITE and st[3]:
                    st[3] -= s.send(payload[size - st[3]:])
                    if not st[3]:
                        sel.modify(s, selectors.EVENT_READ)
                if mask & selectors.EVENT_READ:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise ConnectionResetError("closed by the server")
                    st[1] += len(chunk)
                    if st[1] >= size:
                        now = time.perf_counter()
                        latencies.append((now - st[2]) * 1000.0)
                        trips += 1
                        st[1], st[2] = 0, now
                        sent = s.send(payload)
                        st[3] = size - sent
                        if st[3]:
                            sel.modify(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                errors += 1
                sel.unregister(s)
                del state[key.fd]
    sel.close()
    return trips, errors


def _blocking_loop(sock, payload: bytes, deadline: float, latencies: array) -> tuple[int, int]:
    from netprobe.clients.base import echo_roundtrip

    trips = 0
    try:
        while time.perf_counter() < deadline:
            latencies.append(echo_roundtrip(sock, payload))
            trips += 1
    except (OSError, ValueError):
        return trips, 1
    return trips, 0


def run_threads(socks, payload: bytes, deadline: float, latencies: array) -> tuple[int, int]:
    import threading

    results = []

    def worker(sock) -> None:
        own = array("d")
        trips, errors = _blocking_loop(sock, payload, deadline, own)
        results.append((trips, errors, own))

    threads = [threading.Thread(target=worker, args=(s,)) for s in socks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _, _, own in results:
        latencies.extend(own)
    return sum(r[0] for r in results), sum(r[1] for r in results)


def run_gevent(socks, payload: bytes, deadline: float, latencies: array) -> tuple[int, int]:
    import gevent
    import gevent.socket

    gsocks = [gevent.socket.socket(s.family, s.type, s.proto, fileno=s.detach()) for s in socks]
    socks[:] = gsocks
    jobs = [gevent.spawn(_blocking_loop, s, payload, deadline, latencies) for s in gsocks]
    gevent.joinall(jobs)
    return sum(j.value[0] for j in jobs), sum(j.value[1] for j in jobs)


MODELS = {"nonblocking": run_nonblocking, "threads": run_threads, "gevent": run_gevent}


def main(argv: list[str]) -> int:
    host, port, clients, size, duration, model = argv[0], int(argv[1]), int(argv[2]), int(argv[3]), \
        float(argv[4]), argv[5]
    import psutil

    socks = []
    try:
        for _ in range(clients):
            socks.append(socket.create_connection((host, port), timeout=10))
        for s in socks:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.settimeout(None if model != "threads" else 10)
        print(json.dumps({"connected": len(socks)}), flush=True)
        if sys.stdin.readline().strip() != "go":
            return 1
        me = psutil.Process()
        cpu0 = sum(me.cpu_times()[:2])
        latencies = array("d")
        payload = b"x" * size
        start = time.perf_counter()
        trips, errors = MODELS[model](socks, payload, start + duration, latencies)
        elapsed = time.perf_counter() - start
        cpu = sum(me.cpu_times()[:2]) - cpu0
        print(json.dumps({"round_trips": trips, "seconds": elapsed, "errors": errors,
                          "client_cpu": round(100.0 * cpu / elapsed, 1), **_percentiles(latencies)}), flush=True)
        sys.stdin.readline()  # "close", or the end of stdin
        return 0
    finally:
        from netprobe.sockets import abort

        for s in socks:
            abort(s)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
