"""Median wall time of `netprobe limits`, beside `python -c pass` and `import typer`, in one run."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = 11


def median_wall(cmd: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    py = sys.executable
    # `python -m netprobe` puts the working directory first on sys.path: from a checkout's root it would
    # time the source tree (compiled afresh where .pyc files are not written), not the installed package.
    os.chdir(tempfile.gettempdir())
    baseline = median_wall([py, "-c", "pass"])
    typer_only = median_wall([py, "-c", "import typer"])
    limits = median_wall([py, "-m", "netprobe", "limits"])
    help_ = median_wall([py, "-m", "netprobe", "--help"])
    imports = subprocess.run([py, "-X", "importtime", "-m", "netprobe", "limits"],
                             capture_output=True, text=True, check=True).stderr
    gevent = any(line.rstrip().endswith("| gevent") for line in imports.splitlines())
    print(f"python -c pass        {baseline * 1000:7.1f} ms")
    print(f"python -c import typer{typer_only * 1000:7.1f} ms")
    print(f"netprobe --help       {help_ * 1000:7.1f} ms")
    print(f"netprobe limits       {limits * 1000:7.1f} ms  ({limits / baseline:.1f}x python -c pass; goal <= 100 ms)")
    print(f"gevent imported by limits: {'YES (goal: no)' if gevent else 'no'}")
    return 0 if limits <= 0.1 and not gevent else 1


if __name__ == "__main__":
    sys.exit(main())
