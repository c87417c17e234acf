"""Median wall time of `netprobe limits`, beside `python -c pass` and `import typer`, in one run.

Every command runs on a warm cache, as a user's second run does: its modules' bytecode compiled
once, by a first run that is not timed. Where ``PYTHONDONTWRITEBYTECODE`` is set (this project's
developers' machines set it), an editable install would otherwise compile every netprobe module
from source on every run (about 30 ms here); so the commands run with the bytecode cache kept in
a temporary directory (``PYTHONPYCACHEPREFIX``), which is removed afterwards.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

RUNS = 11


@contextmanager
def warm_cache() -> Iterator[dict[str, str]]:
    """An environment whose bytecode cache is written and kept, in a directory removed at the end."""
    with tempfile.TemporaryDirectory(prefix="netprobe-pycache-") as prefix:
        env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = prefix
        yield env


def median_wall(cmd: list[str], env: Optional[dict[str, str]] = None) -> float:
    """The median wall time of ``cmd`` over RUNS runs, after one untimed run that warms the caches."""
    subprocess.run(cmd, capture_output=True, check=True, env=env)
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    py = sys.executable
    # `python -m netprobe` puts the working directory first on sys.path: from a checkout's root it would
    # time the source tree (compiled afresh where .pyc files are not written), not the installed package.
    os.chdir(tempfile.gettempdir())
    with warm_cache() as env:
        baseline = median_wall([py, "-c", "pass"], env)
        typer_only = median_wall([py, "-c", "import typer"], env)
        limits = median_wall([py, "-m", "netprobe", "limits"], env)
        help_ = median_wall([py, "-m", "netprobe", "--help"], env)
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
