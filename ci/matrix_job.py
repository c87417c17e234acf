"""One CI matrix job's measurements: `netprobe limits` and `netprobe ramp` into JSON artifacts.

Python, so it runs the same under bash, PowerShell and cmd. Files are named after the OS and
Python so `netprobe report` can put every job side by side. Exits with the ramp's status:
0 when the target was reached, 1 when a limit stopped it short.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--to", type=int, default=1000, help="ramp target")
    parser.add_argument("--out", default="artifacts", help="directory for the JSON files")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    runner_os = os.environ.get("RUNNER_OS", platform.system()).lower()
    tag = f"{runner_os}-py{platform.python_version()}"
    netprobe = [sys.executable, "-m", "netprobe"]

    limits = os.path.join(args.out, f"limits-{tag}.json")
    subprocess.run([*netprobe, "limits", "--format", "json", "--output", limits], check=True)
    subprocess.run([*netprobe, "limits"], check=True)  # the table, for the job log

    ramp = os.path.join(args.out, f"ramp-{tag}.json")
    status = subprocess.run([*netprobe, "ramp", "--to", str(args.to), "--quiet",
                             "--format", "json", "--output", ramp]).returncode
    subprocess.run([*netprobe, "report", limits, ramp])  # readable in the log whatever happened
    if status not in (0, 1):
        print(f"netprobe ramp failed with exit status {status}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
