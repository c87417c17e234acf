"""One CI matrix job's measurements: `netprobe limits`, the target ramp and the select() headline.

Python, so it runs the same under bash, PowerShell and cmd. Files are named after the OS and
Python so `netprobe report` can put every job side by side. Exits non-zero when the target ramp
fell short, or when select() did not stop where netprobe says it stops on this OS: then
netprobe's story is wrong here, not just the machine small.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

# Where `ramp --selector select --to 2000` must stop, by OS: Windows's select() takes 512
# sockets per call (511 connections and the listener); POSIX select() refuses fd 1024.
HEADLINE_TARGET = 2000
HEADLINE_RANGE = {"windows": (500, 511), "default": (1000, 1023)}


def run(argv: list[str]) -> int:
    print("+ netprobe " + " ".join(argv), flush=True)
    return subprocess.run([sys.executable, "-m", "netprobe", *argv]).returncode


def headline(path: str, os_name: str) -> int:
    """Check that select() stopped the ramp where netprobe says it does on this OS."""
    with open(path, encoding="utf-8") as f:
        ramp = json.load(f)
    stop = ramp.get("stop") or {}
    low, high = HEADLINE_RANGE.get(os_name, HEADLINE_RANGE["default"])
    ok = stop.get("reason") == "select_limit" and stop.get("side") == "server" and low <= ramp["reached"] <= high
    print(f"select() headline on {os_name}: reached {ramp['reached']}, stopped by {stop.get('reason')} "
          f"({stop.get('side')}); expected select_limit on the server side at {low}-{high}: "
          f"{'as expected' if ok else 'NOT AS EXPECTED'}", flush=True)
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--to", type=int, default=1000, help="ramp target")
    parser.add_argument("--backend", default="selectors", help="the target ramp's server backend")
    parser.add_argument("--out", default="artifacts", help="directory for the JSON files")
    args = parser.parse_args()
    headlines = os.path.join(args.out, "headline")
    os.makedirs(headlines, exist_ok=True)
    os_name = os.environ.get("RUNNER_OS", platform.system()).lower()
    tag = f"{os_name}-py{platform.python_version()}"

    limits = os.path.join(args.out, f"limits-{tag}.json")
    if run(["limits", "--format", "json", "--output", limits]) != 0:
        return 2
    run(["limits"])  # the table, for the job log

    ramp = os.path.join(args.out, f"ramp-{tag}.json")
    status = run(["ramp", "--to", str(args.to), "--backend", args.backend, "--quiet",
                  "--format", "json", "--output", ramp])
    run(["report", limits, ramp])  # readable in the log whatever happened

    select_ramp = os.path.join(headlines, f"select-{tag}.json")
    run(["ramp", "--selector", "select", "--to", str(HEADLINE_TARGET), "--quiet",
         "--format", "json", "--output", select_ramp])
    select_status = headline(select_ramp, os_name)
    if status not in (0, 1):
        print(f"netprobe ramp failed with exit status {status}", file=sys.stderr)
    return status or select_status


if __name__ == "__main__":
    sys.exit(main())
