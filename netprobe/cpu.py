"""CPU time a process has used, read one way for every side that reports it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil


def cpu_seconds(proc: psutil.Process) -> float:
    """User plus system CPU seconds ``proc`` has used (psutil's errors pass through to the caller)."""
    times = proc.cpu_times()
    return float(times.user + times.system)
