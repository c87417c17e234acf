"""Percentiles of measured latencies: one definition for every report.

Nearest rank on the sorted values: p-th percentile = the value at index
``min(n - 1, floor(p * n))``. It always returns a value that was measured (no
interpolation), so a p99 of 100 samples is the 100th-smallest one, the largest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Optional


def percentile(ordered: Sequence[float], q: float, digits: int = 4) -> Optional[float]:
    """The value at fraction ``q`` (0.9 for p90) of ``ordered`` (sorted ascending); None if empty."""
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], digits)


def percentiles(values: Iterable[float], qs: Sequence[float], digits: int = 4) -> list[Optional[float]]:
    """``percentile`` of ``values`` (in any order) at each fraction of ``qs``, sorting once."""
    ordered = sorted(values)
    return [percentile(ordered, q, digits) for q in qs]


def p50_p99(latencies: Iterable[float]) -> tuple[Optional[float], Optional[float]]:
    """A step's p50 and p99 check latency, by the one percentile definition of every report."""
    p50, p99 = percentiles(latencies, (0.5, 0.99))
    return p50, p99
