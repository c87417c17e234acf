"""Real servers at their connection caps: netprobe's verdict beside each server's own count (issue 17's table).

Needs redis-server, memcached, nginx and haproxy on PATH (Debian's packages; .ci/run installs them).
Each server starts on a free loopback port with its cap; the script ramps it past the cap with
``--hold 2`` while sampling the server's own count of client connections every 0.1 s over a
connection opened before the ramp, and prints one markdown row per run. Run from the checkout:

    python benchmarks/real_server_caps.py
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

from anchors import free_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.realservers.test_real_servers import _field, _HaproxyInfo, _Line  # noqa: E402 (the tests' counters)

Count = Callable[[], Optional[int]]


def wait_listening(port: int) -> None:
    """Wait up to 5 s for something to accept on ``port``."""
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.05)


def ramp(port: int, args: list[str], count: Count, before: int) -> tuple[int, dict, Optional[int]]:
    """Ramp the server at ``port`` while sampling its own count; (exit status, result, its count in the final hold)."""
    samples: list[Optional[int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            samples.append(count())

    sampler = threading.Thread(target=sample)
    sampler.start()
    proc = subprocess.run([sys.executable, "-m", "netprobe", "ramp", "--target", f"127.0.0.1:{port}", "--quiet",
                           "--format", "json", "--hold", "2", *args], capture_output=True, text=True, cwd=ROOT)
    done.set()
    sampler.join()
    return proc.returncode, json.loads(proc.stdout), final_plateau([v for v in samples if v is not None], before)


def final_plateau(seen: list[int], before: int) -> Optional[int]:
    """The server's count while the ramp held its last step: the last value it kept for half a second (5 samples)."""
    last: Optional[int] = None
    value, length = None, 0
    for reading in seen:
        length = length + 1 if reading == value else 1
        value = reading
        if length == 5 and reading > before:
            last = reading
    return last


def measure(name: str, argv: list[str], port: int, count: Optional[Count], args: list[str]) -> str:
    """Start a server, ramp it, stop it; return its markdown row. No ``count``: the kernel's count of its sockets."""
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if count is None:
        count = kernel_count(server.pid, port)
    try:
        wait_listening(port)
        time.sleep(0.3)
        before = count() or 0
        status, result, final = ramp(port, args, count, before)
    finally:
        server.terminate()
        server.wait()
    stop = result["stop"] or {}
    theirs = None if final is None else final - before
    agrees = "?" if theirs is None else ("yes" if abs(result["reached"] - theirs) <= 0.02 * max(1, theirs) else "NO")
    return (f"| {name} | {' '.join(args)} | {status} | {result['reached']:,} | {stop.get('reason', 'reached')} | "
            f"{stop.get('setting') or ''} | {'?' if theirs is None else f'{theirs:,}'} | {agrees} |")


def kernel_count(pid: int, port: int) -> Count:
    """For a server that does not count its clients: the kernel's established sockets of its process on ``port``."""
    import psutil

    proc = psutil.Process(pid)

    def count() -> Optional[int]:
        try:
            return sum(1 for c in proc.net_connections("tcp")
                       if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port)
        except psutil.Error:
            return None

    return count


def main() -> int:
    """Every row of the table, each server fresh; with ``--busy N``, beside N busy loops, ``--runs R`` times."""
    import argparse

    parser = argparse.ArgumentParser(description="Real servers at their caps, netprobe's count beside theirs.")
    parser.add_argument("--busy", type=int, default=0, help="busy loops (one process each) running beside")
    parser.add_argument("--runs", type=int, default=1, help="how many times to run the table")
    options = parser.parse_args()
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(options.busy)]
    try:
        for run in range(options.runs):
            print(f"\nrun {run + 1} of {options.runs}, beside {options.busy} busy loops")
            table()
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    return 0


def table() -> None:
    """One table: every server, fresh."""
    rows = []
    port = free_port()
    rows.append(measure("memcached -c 500", ["memcached", "-p", str(port), "-l", "127.0.0.1", "-U", "0", "-c", "500",
                                             "-u", "root"], port,
                        _Line(port, b"stats\r\n", _field(b"STAT curr_connections "), b"END\r\n"), ["--to", "3000"]))
    for name, extra, args in (("redis --maxclients 500", ["--maxclients", "500", "--protected-mode", "no"],
                               ["--to", "3000"]),
                              ("redis (protected mode)", [], ["--to", "4000", "--workers", "2", "--spawn-local"])):
        port = free_port()
        rows.append(measure(name, ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", *extra], port,
                            _Line(port, b"INFO clients\r\n", _field(b"connected_clients:"), b"maxclients"), args))
    for cap, to in ((300, 550), (300, 3000), (9980, 10000)):
        folder, port, back = tempfile.mkdtemp(), free_port(), free_port()
        backend = subprocess.Popen([sys.executable, "-m", "netprobe", "serve", "--port", str(back)],
                                   stdout=subprocess.DEVNULL, cwd=ROOT)
        wait_listening(back)
        Path(folder, "haproxy.cfg").write_text(
            f"global\n    maxconn {cap}\n    stats socket {folder}/stats.sock mode 600 level admin\n"
            "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 120s\n    timeout server 120s\n"
            f"frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n"
            f"backend be\n    server s1 127.0.0.1:{back} maxconn {cap * 2}\n")
        rows.append(measure(f"haproxy maxconn {cap}", ["haproxy", "-db", "-f", f"{folder}/haproxy.cfg"], port,
                            _HaproxyInfo(Path(folder, "stats.sock")), ["--to", str(to)]))
        backend.terminate()
        backend.wait()
    folder, port = tempfile.mkdtemp(), free_port()
    os.makedirs(f"{folder}/logs")
    Path(folder, "nginx.conf").write_text(
        f"worker_processes 1;\nerror_log {folder}/logs/error.log;\npid {folder}/nginx.pid;\n"
        "events { worker_connections 512; }\n"
        f"http {{ access_log off; keepalive_timeout 120s; server {{ listen 127.0.0.1:{port}; "
        'location = /status { stub_status; } location / { return 200 "ok\\n"; } } }\n')
    rows.append(measure("nginx worker_connections 512", ["nginx", "-p", folder, "-c", f"{folder}/nginx.conf", "-g",
                                                         "daemon off;"], port,
                        _Line(port, b"GET /status HTTP/1.1\r\nHost: localhost\r\n\r\n", _field(b"Active connections: "),
                              b"Waiting"), ["--to", "1000"]))
    folder, port = tempfile.mkdtemp(), free_port()
    Path(folder, "mosquitto.conf").write_text(f"listener {port} 127.0.0.1\nmax_connections 200\n"
                                              "allow_anonymous true\npersistence false\n")
    rows.append(measure("mosquitto max_connections 200", ["mosquitto", "-c", f"{folder}/mosquitto.conf"], port, None,
                        ["--to", "600", "--verify", "connect"]))
    print("| server and cap | ramp | exit | netprobe held | stop | setting named | server's own, final hold | "
          "within 2% |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    raise SystemExit(main())
