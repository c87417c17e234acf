"""How fast any Python ramp that checks each connection with an echo could open 9,000: the floor under the ramp goal.

The bare connect/accept loop opens a connection with three system calls in one process. The
ramp also proves each one served: it sends a probe and reads the echo, and its server runs in a
process of its own. This measures, interleaved over ``--runs`` rounds (medians):

- the bare loop (the goal's baseline) and the same loop with the echo check added, in one process;
- the floor: the least Python that does the ramp's work, a client that connects without blocking
  and sends at once, 1,000 at a time, then reads every echo, against a minimal epoll echo server
  in a second process. It keeps no record of anything, watches nothing and checks no reply;
- netprobe's ramp to the same count, default placement;
- the one-process floor, under ``--placement thread``: the least Python that does that placement's
  work in one thread, non-blocking, 1,000 at a time (connect and send; accept, register with the
  server's epoll, echo; read the echo, register with the client's watch). The two registrations
  are what the ramp needs to serve a connection again and to notice the server closing it; the
  row without them shows what they cost;
- netprobe's ramp to the same count with ``--placement thread``.

On loopback the side that sends pays for the receiver's processing too, so the client's system
calls alone (socket, connect, send, recv) cost more than the bare loop's whole connection: the
floor, not netprobe's bookkeeping, is what keeps the ramp under 0.9x the bare loop on two cores.

Linux only: the floor's server waits on epoll.

    python benchmarks/ramp_floor.py [--connections 9000] [--runs 5]
"""

from __future__ import annotations

import argparse
import resource
import select
import selectors
import socket
import statistics
import subprocess
import sys
import time

from ramp_vs_bare import _measure

BATCH = 1000
ONE_PROCESS_BARE = "one process, non-blocking, no epoll"
ONE_PROCESS_FLOOR = "one-process floor (both registrations)"
PROBE = b"netprobe ping\n"

# The second process of the floor: accepts, echoes one message on each connection, and keeps it.
SERVER = """
import select, socket, sys
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(4096); srv.setblocking(False)
print(srv.getsockname()[1], flush=True)
ep = select.epoll(); ep.register(srv.fileno(), select.EPOLLIN); ep.register(0, select.EPOLLIN)
conns = {}
while True:
    for fd, _ in ep.poll():
        if fd == 0:
            sys.exit(0)
        if fd == srv.fileno():
            while True:
                try:
                    s, _ = srv.accept()
                except BlockingIOError:
                    break
                s.setblocking(False); conns[s.fileno()] = s; ep.register(s.fileno(), select.EPOLLIN)
            continue
        s = conns[fd]
        data = s.recv(64)
        if data:
            s.send(data)
        ep.unregister(fd)
"""


def bare_with_echo(n: int) -> float:
    """Seconds of the bare loop with the echo check added: connect, send, accept, echo, read; one process."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(socket.SOMAXCONN)
    address = listener.getsockname()
    keep = []
    start = time.perf_counter()
    for _ in range(n):
        client = socket.socket()
        client.connect(address)
        client.send(PROBE)
        server, _ = listener.accept()
        server.send(server.recv(64))
        client.recv(64)
        keep += (client, server)
    elapsed = time.perf_counter() - start
    for sock in keep:
        sock.close()
    listener.close()
    return elapsed


def one_process_floor(n: int, register: bool) -> float:
    """Seconds of the least Python that opens ``n`` echo-checked connections with its server in the same thread.

    With ``register``, each accepted socket joins the server's epoll and each checked one the
    client's, as ``--placement thread`` needs; without, neither does.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(socket.SOMAXCONN)
    listener.setblocking(False)
    address = listener.getsockname()
    server_epoll, client_epoll = select.epoll(), select.epoll()
    kind = socket.SOCK_STREAM | socket.SOCK_NONBLOCK
    keep: list[socket.socket] = []
    try:
        start = time.perf_counter()
        for first in range(0, n, BATCH):
            batch = []
            for _ in range(min(BATCH, n - first)):
                client = socket.socket(socket.AF_INET, kind)
                client.connect_ex(address)  # loopback handshakes finish inside connect()
                client.send(PROBE)
                batch.append(client)
            while True:
                try:
                    server, _ = listener.accept()
                except BlockingIOError:
                    break
                server.setblocking(False)
                if register:
                    server_epoll.register(server.fileno(), select.EPOLLIN)
                server.send(server.recv(64))
                keep.append(server)
            for client in batch:
                client.recv(64)
                if register:
                    client_epoll.register(client.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
            keep += batch
        return time.perf_counter() - start
    finally:
        server_epoll.close()
        client_epoll.close()
        for sock in keep:
            sock.close()
        listener.close()


def floor(n: int) -> float:
    """Seconds of the least Python that opens ``n`` echo-checked connections with a server in another process."""
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdin is not None and server.stdout is not None
    address = ("127.0.0.1", int(server.stdout.readline()))
    keep: list[socket.socket] = []
    sel = selectors.DefaultSelector()
    try:
        start = time.perf_counter()
        for first in range(0, n, BATCH):
            batch = []
            for _ in range(min(BATCH, n - first)):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setblocking(False)
                sock.connect_ex(address)
                sock.send(PROBE)  # loopback handshakes finish inside connect()
                batch.append(sock)
            for sock in batch:
                try:
                    sock.recv(64)
                except BlockingIOError:
                    sel.register(sock, selectors.EVENT_READ)
                    sel.select(5)
                    sel.unregister(sock)
                    sock.recv(64)
            keep += batch
        return time.perf_counter() - start
    finally:
        sel.close()
        for sock in keep:
            sock.close()
        server.stdin.close()
        server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=9000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    n = args.connections
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2 * n + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2 * n + 100), hard))
    rows: dict[str, list[float]] = {"bare connect+accept loop": [], "bare loop with the echo check": [],
                                    "floor: least Python, two processes": [], "netprobe ramp": [],
                                    ONE_PROCESS_BARE: [], ONE_PROCESS_FLOOR: [], "netprobe ramp --placement thread": []}
    for _ in range(args.runs):
        rows["bare connect+accept loop"].append(_measure("bare", n)[0])
        rows["bare loop with the echo check"].append(n / bare_with_echo(n))
        rows["floor: least Python, two processes"].append(n / floor(n))
        rows["netprobe ramp"].append(_measure("nonblocking", n)[0])
        rows[ONE_PROCESS_BARE].append(n / one_process_floor(n, register=False))
        rows[ONE_PROCESS_FLOOR].append(n / one_process_floor(n, register=True))
        rows["netprobe ramp --placement thread"].append(_measure("thread", n)[0])
    rates = {name: statistics.median(values) for name, values in rows.items()}
    bare = rates["bare connect+accept loop"]
    print(f"{n:,} connections, medians of {args.runs} interleaved runs")
    print(f"{'':40} {'conn/s':>9} {'/ bare':>7}")
    for name, rate in rates.items():
        print(f"{name:40} {rate:9,.0f} {rate / bare:7.2f}")
    print(f"netprobe ramp / its floor = {rates['netprobe ramp'] / rates['floor: least Python, two processes']:.2f}")
    print(f"netprobe ramp --placement thread / its floor = "
          f"{rates['netprobe ramp --placement thread'] / rates[ONE_PROCESS_FLOOR]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
