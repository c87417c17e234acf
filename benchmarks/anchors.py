"""The C anchors of the speed goals: built with the system's C compiler, and the million run as netprobe's is.

``connect_accept.c`` marks a connect/accept loop and ``million.c`` a million held connections on
this machine (the workplace's ``../shared/anchors``). Where there is no compiler or no source, a
figure that needs them is unknown, never 0.
"""

from __future__ import annotations

import resource
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

DEFAULT_SOURCE = Path(__file__).resolve().parent.parent.parent / "shared" / "anchors"


def build_anchors(source: Path, into: Path, names: tuple[str, ...] = ("connect_accept", "million")
                  ) -> dict[str, Optional[Path]]:
    """The C anchors ``names`` compiled into ``into``; None for each that cannot be built here."""
    cc = shutil.which("cc") or shutil.which("gcc")
    built: dict[str, Optional[Path]] = {}
    for name in names:
        src = source / f"{name}.c"
        built[name] = None
        if cc is not None and src.is_file():
            out = into / name
            if subprocess.run([cc, "-O2", "-o", str(out), str(src)], capture_output=True).returncode == 0:
                built[name] = out
    return built


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def children_cpu() -> float:
    """CPU seconds of every reaped child (and their reaped children) so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class MillionRun:
    """One run of a million (netprobe's or C's): seconds to open them all, CPU seconds per connection, what ran."""

    seconds: float
    cpu_per_connection: float
    summary: str

    def against(self, other: MillionRun) -> tuple[float, float]:
        """This run's time and CPU per connection as ratios of ``other``'s."""
        return self.seconds / other.seconds, self.cpu_per_connection / other.cpu_per_connection


def run_million(million: Path, n: int) -> Optional[MillionRun]:
    """``million.c`` holding ``n`` connections in steps of a tenth, as netprobe's million ramps; None if it failed."""
    cpu = children_cpu()
    out = subprocess.run([str(million), str(n), str(max(1, n // 10))], capture_output=True, text=True)
    used = (children_cpu() - cpu) / n
    held = [line for line in out.stdout.splitlines() if line.startswith("total ")]
    if out.returncode != 0 or not held:
        print(f"  the C million failed (exit {out.returncode}): {out.stderr.strip()[-200:]}")
        return None
    return MillionRun(float(held[0].split(" held in ")[1].split(" s")[0]), used, held[0])
