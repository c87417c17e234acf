"""netprobe beside tsung: the same nginx, the same connections held, one keep-alive GET a second on each.

tsung (Erlang, from the OS packages) is the peer that holds the most connections from one box.
Both tools open ``--connections`` connections to one nginx (from the OS packages, in a scratch
directory, ``worker_connections`` above that) and send a GET on each once a second for
``--seconds``. Printed side by side: connections held, requests a second answered, latency
(tsung: its mean and max per request, measured from each send, a closed loop per user;
netprobe: its p50, p99 and max from when each request was due) and client CPU per request (both
the CPU of the tool's whole process tree, from the kernel's accounting of children). Run from the
checkout, alone on a quiet machine, on Linux with nginx and tsung installed:

    python benchmarks/tsung_nginx.py [--connections 2000] [--seconds 30]

Loopback only. Nothing is left behind: nginx is stopped, tsung's log directory removed, and
Erlang's port mapper (epmd), which tsung starts, is stopped unless it was running before.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from anchors import children_cpu, free_port

ROOT = Path(__file__).resolve().parent.parent
NGINX = """worker_processes 1;
error_log {dir}/error.log;
pid {dir}/nginx.pid;
worker_rlimit_nofile {fds};
events {{ worker_connections {fds}; }}
http {{ access_log off; keepalive_requests 1000000; keepalive_timeout 600s;
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 "ok\\n"; }} }} }}
"""
TSUNG = """<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="warning" version="1.0">
  <clients><client host="localhost" use_controller_vm="true" maxusers="{users}"/></clients>
  <servers><server host="127.0.0.1" port="{port}" type="tcp"/></servers>
  <load duration="{duration}" unit="second">
    <arrivalphase phase="1" duration="{arrival}" unit="second">
      <users maxnumber="{users}" arrivalrate="{rate}" unit="second"/>
    </arrivalphase>
  </load>
  <sessions>
    <session name="hold" probability="100" type="ts_http">
      <for from="1" to="{requests}" var="i">
        <request><http url="/" method="GET" version="1.1"/></request>
        <thinktime value="1" random="false"/>
      </for>
    </session>
  </sessions>
</tsung>
"""
# tsung's users arrive at random over this many seconds, twice as fast as needed: maxnumber caps
# them at --connections, all of them in before the phase ends, as netprobe's one step opens them.
ARRIVAL_S = 5


def tsung(port: int, users: int, seconds: int, scratch: Path) -> dict[str, float]:
    """Run tsung; its held connections, answered requests a second, mean and max latency, CPU per request."""
    config = scratch / "tsung.xml"
    config.write_text(TSUNG.format(users=users, port=port, duration=seconds + ARRIVAL_S + 10, arrival=ARRIVAL_S,
                                   rate=max(1, 2 * users // ARRIVAL_S), requests=seconds))
    before = children_cpu()
    subprocess.run(["tsung", "-f", str(config), "-l", str(scratch / "log"), "start"], capture_output=True,
                   timeout=seconds * 4 + 120, check=True)
    cpu = children_cpu() - before
    (log,) = (scratch / "log").glob("*/tsung.log")
    connected, requests, mean, worst, rates = 0, 0, 0.0, 0.0, []
    for line in log.read_text().splitlines():
        parts = line.split()
        if line.startswith("stats: connected "):
            connected = max(connected, int(parts[3]))
        elif line.startswith("stats: request "):
            # count this period, mean, stddev, max, min, mean over the run, count over the run
            rates.append(int(parts[2]) / 10.0)  # tsung dumps its statistics every 10 s
            worst, mean, requests = float(parts[5]), float(parts[7]), int(parts[8])
    steady = max(rates, default=0.0)  # the fullest 10 s, when every user was in its loop
    return {"held": connected, "rps": steady, "p50": mean, "p99": float("nan"), "max": worst,
            "cpu_us": cpu * 1e6 / max(1, requests)}


def netprobe(port: int, connections: int, seconds: int) -> dict[str, float]:
    """One step of ``connections`` held, one GET a second on each for ``seconds``: the same figures."""
    before = children_cpu()
    proc = subprocess.run([sys.executable, "-m", "netprobe", "ramp", "--target", f"127.0.0.1:{port}", "--probe",
                           "http", "--rate", "1", "--to", str(connections), "--step", str(connections), "--hold",
                           str(seconds), "--quiet", "--format", "json"],
                          capture_output=True, text=True, cwd=ROOT, timeout=seconds * 4 + 120)
    cpu = children_cpu() - before
    doc: dict[str, Any] = json.loads(proc.stdout)
    traffic = doc["steps"][-1]["traffic"]
    return {"held": doc["reached"], "rps": traffic["achieved_rate"], "p50": traffic["p50_ms"],
            "p99": traffic["p99_ms"], "max": traffic["max_ms"], "cpu_us": cpu * 1e6 / max(1, traffic["answered"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()
    for program in ("nginx", "tsung"):
        if shutil.which(program) is None:
            raise SystemExit(f"{program} is not installed (apt-get install {program})")
    epmd_before = any(p.info["name"] == "epmd" for p in psutil.process_iter(["name"]))
    scratch = Path(tempfile.mkdtemp(prefix="netprobe-tsung-"))
    port = free_port()
    (scratch / "nginx.conf").write_text(NGINX.format(dir=scratch, port=port, fds=args.connections * 2 + 100))
    subprocess.run(["nginx", "-c", str(scratch / "nginx.conf"), "-p", str(scratch)], check=True)
    try:
        time.sleep(0.5)
        theirs = tsung(port, args.connections, args.seconds, scratch)
        ours = netprobe(port, args.connections, args.seconds)
    finally:
        subprocess.run(["nginx", "-c", str(scratch / "nginx.conf"), "-p", str(scratch), "-s", "stop"], check=False)
        if not epmd_before:
            for p in psutil.process_iter(["name"]):
                if p.info["name"] == "epmd":
                    p.terminate()
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{args.connections:,} connections to one nginx, one keep-alive GET a second on each, {args.seconds} s")
    print("| figure | tsung | netprobe | netprobe / tsung |")
    print("|---|---|---|---|")
    rows = (("held", "connections held", "{:,.0f}"), ("rps", "requests/s answered", "{:,.0f}"),
            ("p50", "latency ms: tsung's mean, netprobe's p50", "{:,.2f}"), ("p99", "p99 ms", "{:,.2f}"),
            ("max", "max ms", "{:,.1f}"), ("cpu_us", "client CPU µs per request", "{:,.1f}"))
    for key, name, fmt in rows:
        a, b = theirs[key], ours[key]
        ratio = "-" if a != a or b != b or not a else f"{b / a:.2f}x"
        shown_a = "not given" if a != a else fmt.format(a)
        print(f"| {name} | {shown_a} | {fmt.format(b)} | {ratio} |")


if __name__ == "__main__":
    main()
