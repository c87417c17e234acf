"""Time one select() call of each selector against N registered sockets, one of them ready.

select() and poll() hand the kernel the whole set on every call, so their cost grows with N;
epoll and kqueue keep the set in the kernel and only report what is ready, so theirs does not.
"""

from __future__ import annotations

import selectors
import socket
import time
from typing import Optional

from netprobe import platform
from netprobe.bench import Announce, say
from netprobe.errors import UsageError
from netprobe.hostinfo import platform_info
from netprobe.models import BenchSelectorsResult, Note, SelectorCap, SelectorSlope, SelectorTiming
from netprobe.selector_catalog import available_selectors
from netprobe.stats import percentiles

DEFAULT_FDS = (10, 100, 1000, 5000)
DEFAULT_CALLS = 200
# A timeout long enough that a selector which waited would show it; the ready socket returns at once.
WAIT_TIMEOUT = 1.0
# fds this process keeps for itself beyond the sockets under test.
FD_RESERVE = 64


# More registered sockets than this is a typo, not a benchmark (each costs two fds).
MAX_FDS = 1_000_000


def parse_fds(text: str) -> list[int]:
    """Parse ``--fds 10,100,1000``: positive integers, at least one."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise UsageError(f"--fds {text!r}: give comma-separated counts, e.g. 10,100,1000")
    bad = next((p for p in parts if not p.isdigit()), None)
    if bad is not None:
        raise UsageError(f"--fds {text[:40]!r}: {bad[:20]!r} is not a count")
    if any(len(p) > len(str(MAX_FDS)) for p in parts) or any(int(p) > MAX_FDS for p in parts):
        raise UsageError(f"--fds: counts above {MAX_FDS:,} are more sockets than a benchmark needs")
    counts = [int(p) for p in parts]
    if any(n <= 0 for n in counts):
        raise UsageError(f"--fds {text!r}: counts must be greater than 0")
    return sorted(set(counts))


def check_fd_budget(counts: list[int]) -> Optional[Note]:
    """Raise the soft fd limit for the largest count, or fail naming the limit."""
    need = max(counts) + 2 + FD_RESERVE
    if not platform.HAS_RLIMIT:
        return None
    soft, hard, _ = platform.fd_limits()
    if soft is not None and soft < need:
        new = platform.raise_soft_fd_limit(need)
        if new is None or new < need:
            raise UsageError(f"--fds {max(counts)} needs {need} fds, above the fd limit "
                             f"(soft {new or soft}, hard {hard if hard is not None else 'unlimited'})")
        return Note("fds.soft", f"raised this process's soft fd limit from {soft} to {new}")
    return None


def _idle_sockets(n: int) -> list[socket.socket]:
    """``n`` connected sockets nobody writes to: both ends of n/2 socket pairs."""
    socks: list[socket.socket] = []
    try:
        while len(socks) < n:
            a, b = socket.socketpair()
            socks += (a, b)
    except BaseException:
        for s in socks:
            s.close()
        raise
    extra = socks[n:]
    for s in extra:
        s.close()
    return socks[:n]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    """The median and p90 of one cell's call times, by the report-wide nearest-rank definition."""
    median, p90 = percentiles(samples, (0.5, 0.9), digits=6)
    assert median is not None and p90 is not None, "a cell times at least one call"
    return median, p90


def time_selector(name: str, idle: list[socket.socket], ready: socket.socket, calls: int,
                  cap: SelectorCap) -> SelectorTiming:
    """Register ``idle`` plus ``ready`` with a ``name`` selector and time its calls."""
    sel = getattr(selectors, name)()
    n = len(idle) + 1
    try:
        t0 = time.perf_counter()
        for s in idle:
            sel.register(s, selectors.EVENT_READ)
        sel.register(ready, selectors.EVENT_READ)
        register_us = (time.perf_counter() - t0) * 1e6 / n
        try:
            sel.select(0)
        except ValueError:
            where = f"fd {cap.limit}" if cap.kind == "fd_number" else f"{cap.limit} sockets"
            return SelectorTiming(name, len(idle), None, None, None, None, round(register_us, 3), None,
                                  error=f"select_limit at {where}")
        results = {}
        for label, timeout in (("call", 0), ("wait", WAIT_TIMEOUT)):
            samples = []
            for _ in range(calls):
                start = time.perf_counter()
                events = sel.select(timeout)
                samples.append((time.perf_counter() - start) * 1e6)
                assert len(events) == 1  # exactly the ready socket: the work is the same every call
            results[label] = _percentiles(samples)
        t0 = time.perf_counter()
        for s in idle:
            sel.unregister(s)
        sel.unregister(ready)
        unregister_us = (time.perf_counter() - t0) * 1e6 / n
    finally:
        sel.close()
    return SelectorTiming(
        name, len(idle),
        round(results["call"][0], 3), round(results["call"][1], 3),
        round(results["wait"][0], 3), round(results["wait"][1], 3),
        round(register_us, 3), round(unregister_us, 3),
    )


def slope(timings: list[SelectorTiming]) -> Optional[float]:
    """Least-squares slope of the timeout-0 median against fds, in µs per 1000 fds."""
    points = [(t.fds, t.call_us_median) for t in timings if t.call_us_median is not None]
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if var == 0:
        return None
    cov = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return round(cov / var * 1000, 3)


def run_bench_selectors(counts: list[int], selector_names: list[str], calls: int,
                        announce: Optional[Announce] = None) -> BenchSelectorsResult:
    """Time every selector at every count; a selector that cannot go that far says why."""
    notes = []
    raised = check_fd_budget(counts)
    if raised:
        notes.append(raised)
    cap = platform.probe_select_cap()
    timings: list[SelectorTiming] = []
    ready_pair = socket.socketpair()
    try:
        ready_pair[1].send(b"x")
        for n in counts:
            say(announce, f"{', '.join(selector_names)} over {n:,} sockets")
            idle = _idle_sockets(n)
            try:
                for name in selector_names:
                    timings.append(time_selector(name, idle, ready_pair[0], calls, cap))
            finally:
                for s in idle:
                    s.close()
    finally:
        for s in ready_pair:
            s.close()
    slopes = [SelectorSlope(name, slope([t for t in timings if t.selector == name])) for name in selector_names]
    return BenchSelectorsResult(counts, calls, timings, slopes, platform_info(), notes)


def resolve_selectors(names: Optional[list[str]]) -> list[str]:
    """Class names for ``--selector`` values (all available ones by default)."""
    from netprobe.selector_catalog import resolve_selector

    if not names:
        return available_selectors()
    return list(dict.fromkeys(resolve_selector(n) for n in names))
