"""Nearest-rank percentiles of measured latencies, shared by the benchmarks."""

from __future__ import annotations

from typing import Optional, Sequence


def percentile(ordered: Sequence[float], q: float, digits: int = 3) -> Optional[float]:
    """The value at fraction ``q`` (0.9 for p90) of ``ordered`` (sorted ascending); None if empty."""
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], digits)
