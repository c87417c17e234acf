"""Benchmarks users run on their own machine: selectors' scan cost and concurrency models.

Each ``run_bench_*`` takes an ``announce`` callback (``Announce``): it is told, in a few words,
what starts next, so a person at a terminal sees a long benchmark move.
"""

from collections.abc import Callable
from typing import Optional

Announce = Callable[[str], None]


def say(announce: Optional[Announce], what: str) -> None:
    """Tell ``announce`` (when there is one) what starts next."""
    if announce is not None:
        announce(what)
