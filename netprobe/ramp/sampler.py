"""psutil samples of a ramp's two sides: fds, RSS and CPU of the client (this process) and the server."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from netprobe import platform
from netprobe.cpu import cpu_seconds
from netprobe.models.ramp import Peak, RampStep

if TYPE_CHECKING:
    import psutil


@dataclass(frozen=True)
class Sample:
    """Both sides at one moment; None where a side cannot be read (no such process, or EMFILE)."""

    client_fds: Optional[int] = None
    client_rss: Optional[int] = None
    client_cpu: Optional[float] = None  # percent of one core since the previous sample
    server_fds: Optional[int] = None
    server_rss: Optional[int] = None
    server_cpu: Optional[float] = None


class Sampler:
    """Samples the client (this process, and its client processes) and the server's processes, if any.

    A side of several processes (a spread ramp) is their sum; where one of them cannot be read,
    the side's figure is unknown.
    """

    def __init__(self, server_pids: list[int], client_pids: Optional[list[int]] = None) -> None:
        import psutil

        self._psutil = psutil
        self.me = psutil.Process()
        self.servers = [psutil.Process(pid) for pid in server_pids]
        self.server = self.servers[0] if self.servers else None
        self.clients = [self.me, *(psutil.Process(pid) for pid in client_pids or [])]
        self._last: dict[str, float] = {}
        self._first: dict[str, float] = {}  # CPU seconds at start(), per side
        self._at = time.perf_counter()

    def _read(self, proc: psutil.Process) -> Optional[tuple[Optional[int], int, float]]:
        try:
            with proc.oneshot():
                fds = platform.process_fds(proc)
                rss = proc.memory_info().rss
                cpu = cpu_seconds(proc)
        except (self._psutil.NoSuchProcess, self._psutil.AccessDenied):
            return None
        except OSError:
            # EMFILE: at the fd limit psutil cannot open /proc/PID/fd either; the stop says why.
            return None
        return fds, rss, cpu

    def _one(self, procs: list[psutil.Process], key: str,
             wall: float) -> tuple[Optional[int], Optional[int], Optional[float]]:
        readings = [self._read(proc) for proc in procs]
        if not readings or None in readings:
            return None, None, None
        known = [r for r in readings if r is not None]
        fds_each = [r[0] for r in known]
        fds = None if None in fds_each else sum(f for f in fds_each if f is not None)
        rss = sum(r[1] for r in known)
        cpu = sum(r[2] for r in known)
        self._first.setdefault(key, cpu)
        before = self._last.get(key)
        self._last[key] = cpu
        # CPU share since the previous sample, over the wall time between the two samples.
        percent = None if before is None or wall <= 0 else round(100.0 * (cpu - before) / wall, 1)
        return fds, rss, percent

    def start(self) -> None:
        """Take the first sample: CPU time is counted from here."""
        self._at = time.perf_counter()
        self._one(self.clients, "client", 0)
        self._one(self.servers, "server", 0)

    def cpu_seconds(self, side: str) -> Optional[float]:
        """CPU seconds ``side`` ("client" or "server") used between start() and the last sample."""
        if side not in self._first or side not in self._last:
            return None
        return round(self._last[side] - self._first[side], 4)

    def sample(self) -> Sample:
        """Both sides now."""
        now = time.perf_counter()
        wall, self._at = now - self._at, now
        cfds, crss, ccpu = self._one(self.clients, "client", wall)
        sfds, srss, scpu = self._one(self.servers, "server", wall)
        return Sample(cfds, crss, ccpu, sfds, srss, scpu)


def peak_of(steps: list[RampStep]) -> Peak:
    """The most fds and RSS each side used over a ramp's steps; None where no step could tell."""
    def top(name: str) -> Optional[int]:
        values = [getattr(s, name) for s in steps if getattr(s, name) is not None]
        return max(values) if values else None

    return Peak(top("client_fds"), top("server_fds"), top("client_rss"), top("server_rss"))
