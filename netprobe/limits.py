"""Collect what this machine and process can hold, and predict the connection ceiling."""

from __future__ import annotations

import platform as _stdlib_platform
import selectors
import sys
from typing import Optional

from netprobe import platform
from netprobe.errors import UnavailableError
from netprobe.platform import SystemFacts
from netprobe.models import (
    FdLimits,
    LimitsReport,
    MemoryStats,
    NetworkLimits,
    Note,
    PlatformInfo,
    PortRange,
    Prediction,
    ProcessStats,
    SelectorCap,
    SelectorsInfo,
)

# CPython's DefaultSelector preference order (Lib/selectors.py).
SELECTOR_ORDER = ("KqueueSelector", "EpollSelector", "DevpollSelector", "PollSelector", "SelectSelector")
# Short names users type on the command line.
SELECTOR_NAMES = {
    "kqueue": "KqueueSelector",
    "epoll": "EpollSelector",
    "devpoll": "DevpollSelector",
    "poll": "PollSelector",
    "select": "SelectSelector",
}
# Selectors that hold a kernel object (an fd) of their own.
_SELECTORS_WITH_FD = {"KqueueSelector", "EpollSelector", "DevpollSelector"}

PLACEMENTS = ("process", "thread")
# SystemFacts attribute -> where the fact sits in the limits JSON.
_FACT_PATHS = {
    "system_max": "fds.system_max",
    "system_in_use": "fds.system_in_use",
    "per_process_max": "fds.per_process_max",
    "somaxconn": "network.somaxconn",
    "port_low": "network.ephemeral_ports",
    "port_high": "network.ephemeral_ports",
    "tcp_tw_reuse": "network.tcp_tw_reuse",
    "tcp_fin_timeout": "network.tcp_fin_timeout",
    "tcp_max_syn_backlog": "network.tcp_max_syn_backlog",
    "nf_conntrack_max": "network.nf_conntrack_max",
}
# A server child started by netprobe holds stdin, stdout and stderr before its listener.
SERVER_CHILD_STDIO_FDS = 3
# Kernel plus user memory of one loopback connection pair: ~7.7 KB of kernel slab was
# measured per pair on Linux; rounded up for netprobe's own bookkeeping on both ends.
MEMORY_PER_CONNECTION = 10 * 1024


def platform_info() -> PlatformInfo:
    """Describe the OS and Python this runs on."""
    uname = _stdlib_platform.uname()
    return PlatformInfo(
        system=uname.system,
        release=uname.release,
        machine=uname.machine,
        python=_stdlib_platform.python_version(),
        implementation=sys.implementation.name,
    )


def available_selectors() -> list[str]:
    """Return the selector classes this Python can create, in DefaultSelector's preference order."""
    usable = []
    for name in SELECTOR_ORDER:
        cls = getattr(selectors, name, None)
        if cls is None:
            continue
        try:
            # Existing is not enough: epoll may be compiled in yet refused by a sandbox.
            cls().close()
        except OSError:
            continue
        usable.append(name)
    return usable


def default_selector() -> str:
    """Return the class name ``selectors.DefaultSelector`` resolves to."""
    sel = selectors.DefaultSelector()
    try:
        return type(sel).__name__
    finally:
        sel.close()


def resolve_selector(name: str) -> str:
    """Turn a command-line selector name (``epoll``, ``default``) into a class name present here."""
    if name == "default":
        return default_selector()
    class_name = SELECTOR_NAMES.get(name)
    available = available_selectors()
    if class_name is None or class_name not in available:
        short = [k for k, v in SELECTOR_NAMES.items() if v in available]
        raise UnavailableError(
            f"selector {name!r} is not available here; choose one of: default, {', '.join(short)}"
        )
    return class_name


def selector_caps(available: list[str], select_cap: SelectorCap) -> dict[str, SelectorCap]:
    """Return each available selector's capacity: select's measured cap, RLIMIT_NOFILE for the rest."""
    caps = {}
    for name in available:
        if name == "SelectSelector":
            caps[name] = select_cap
        else:
            caps[name] = SelectorCap("rlimit", None, "no cap of its own: bounded by the fd limit")
    return caps


def server_reserved_fds(selector: str, placement: str, process_fds: Optional[int], ports: int = 1) -> int:
    """Return the fds a server holds before its first connection.

    A child server holds stdio, its listeners and its selector's own fd; a server thread
    shares the controller's fds and the client's selector too.
    """
    own = ports + (1 if selector in _SELECTORS_WITH_FD else 0)
    if placement == "process":
        return SERVER_CHILD_STDIO_FDS + own
    return (process_fds or 0) + own + 1


def predict(
    selector: str,
    placement: str,
    cap: SelectorCap,
    soft: Optional[int],
    system_free: Optional[int],
    ports_per_destination: Optional[int],
    memory_available: Optional[int],
    reserved_fds: int,
    destinations: int = 1,
    listeners_in_range: int = 1,
) -> Prediction:
    """Predict the concurrent loopback connections for one selector and placement, and what binds.

    Pure arithmetic on the facts given, so every platform's branch can be tested anywhere.
    """
    per_conn = 1 if placement == "process" else 2
    candidates: list[tuple[int, str, str]] = []
    if cap.kind == "fd_number" and cap.limit is not None:
        n = max(0, (cap.limit - reserved_fds) // per_conn)
        candidates.append((n, "select_limit",
                           f"select() refuses fd {cap.limit}+; {reserved_fds} fds are taken before the "
                           f"first connection and each costs {per_conn} in this process"))
    elif cap.kind == "count" and cap.limit is not None:
        n = max(0, cap.limit - 1)
        candidates.append((n, "select_limit",
                           f"select() takes {cap.limit} sockets per list, one of them the listener"))
    if soft is not None:
        n = max(0, (soft - reserved_fds) // per_conn)
        candidates.append((n, "fd_limit",
                           f"soft RLIMIT_NOFILE {soft} less {reserved_fds} fds in use at start, "
                           f"{per_conn} fd(s) per connection"))
    if system_free is not None:
        candidates.append((max(0, system_free // 2), "system_fd_limit",
                           f"{system_free} free entries in the system file table, 2 per loopback connection"))
    if ports_per_destination is not None:
        # A listener bound to port 0 takes its port from the same range, and connect() skips it.
        usable = max(0, ports_per_destination - listeners_in_range)
        where = "one destination" if destinations == 1 else f"each of {destinations} destinations"
        candidates.append((usable * destinations, "port_exhaustion",
                           f"{ports_per_destination} ephemeral ports less {listeners_in_range} taken by "
                           f"listeners, per source address to {where}"))
    if memory_available is not None:
        candidates.append((memory_available // MEMORY_PER_CONNECTION, "memory",
                           f"available memory at ~{MEMORY_PER_CONNECTION // 1024} KiB per connection"))
    if not candidates:
        return Prediction(selector, placement, None, None, "no limit could be read")
    n, binding, why = min(candidates, key=lambda c: c[0])
    return Prediction(selector, placement, n, binding, why)


def process_stats(proc=None) -> tuple[ProcessStats, list[Note]]:
    """Sample a psutil.Process (this one by default): fds or handles, RSS, threads, CPU."""
    import psutil

    proc = proc or psutil.Process()
    notes = []
    with proc.oneshot():
        try:
            fds = platform.process_fds(proc)
        except psutil.AccessDenied:
            fds = None
            notes.append(Note("process.fds", "access denied"))
        mem = proc.memory_info()
        cpu = proc.cpu_times()
        return ProcessStats(proc.pid, fds, mem.rss, proc.num_threads(), round(cpu.user + cpu.system, 3)), notes


def collect_limits() -> LimitsReport:
    """Read every limit and fact of this machine and process, then predict the ceilings."""
    import psutil

    soft, hard, missing = platform.fd_limits()
    proc, proc_notes = process_stats()
    vm = psutil.virtual_memory()
    return build_limits_report(
        info=platform_info(),
        soft=soft,
        hard=hard,
        rlimit_missing=missing,
        facts=platform.read_system_facts(),
        select_cap=platform.probe_select_cap(),
        available=available_selectors(),
        default=default_selector(),
        process=proc,
        memory=MemoryStats(vm.total, vm.available),
        extra_notes=proc_notes,
    )


def build_limits_report(
    info: PlatformInfo,
    soft: Optional[int],
    hard: Optional[int],
    rlimit_missing: Optional[str],
    facts: SystemFacts,
    select_cap: SelectorCap,
    available: list[str],
    default: str,
    process: ProcessStats,
    memory: MemoryStats,
    extra_notes: Optional[list[Note]] = None,
) -> LimitsReport:
    """Assemble the report from facts already read: pure, so any platform's facts can be fed in."""
    notes: list[Note] = []
    if rlimit_missing:
        notes += [Note("fds.soft", rlimit_missing), Note("fds.hard", rlimit_missing)]
    notes += [Note(_FACT_PATHS.get(n.field, n.field), n.reason) for n in facts.notes]
    notes += extra_notes or []
    caps = selector_caps(available, select_cap)
    system_free = None
    if facts.system_max is not None and facts.system_in_use is not None:
        system_free = facts.system_max - facts.system_in_use
    predicted = [
        predict(
            name, placement, caps[name], soft, system_free, facts.port_count, memory.available,
            server_reserved_fds(name, placement, process.fds),
        )
        for name in available
        for placement in PLACEMENTS
    ]
    headline = next(p for p in predicted if p.selector == default and p.placement == "process")
    summary = (
        f"selectors.DefaultSelector is {default}; a server in its own process can hold about "
        f"{headline.max_connections:,} connections here, bound by {headline.binding_limit} "
        f"({headline.detail})"
        if headline.max_connections is not None
        else f"selectors.DefaultSelector is {default}; no limit could be read to predict a ceiling"
    )
    return LimitsReport(
        summary=summary,
        platform=info,
        selectors=SelectorsInfo(
            default=default,
            available=available,
            caps=caps,
            why_default=f"{default} is the first of {' > '.join(SELECTOR_ORDER)} this Python can create",
        ),
        fds=FdLimits(soft, hard, facts.system_max, facts.system_in_use, facts.per_process_max),
        network=NetworkLimits(
            somaxconn=facts.somaxconn,
            ephemeral_ports=PortRange(facts.port_low, facts.port_high, facts.port_count),
            tcp_tw_reuse=facts.tcp_tw_reuse,
            tcp_fin_timeout=facts.tcp_fin_timeout,
            tcp_max_syn_backlog=facts.tcp_max_syn_backlog,
            nf_conntrack_max=facts.nf_conntrack_max,
        ),
        process=process,
        memory=memory,
        predicted=predicted,
        notes=notes,
    )
