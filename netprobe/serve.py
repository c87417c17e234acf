"""``netprobe serve``: run one backend in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Optional

from netprobe.errors import UsageError
from netprobe.servers.base import ServerBase
from netprobe.servers.group import ServerGroup
from netprobe.servers.registry import BACKENDS, resolve_options
from netprobe.servers.spec import ServerSpec
from netprobe.servers.status import ServerStatus
from netprobe.sockets import check_destination
from netprobe.vocabulary import ProtocolName

STATS_INTERVAL = 1.0


MAX_COST_US = 1_000_000


def build_serve_spec(backend: str, protocol: ProtocolName, host: str, port: int, selector: Optional[str],
                     loop: Optional[str], root: Optional[str], max_file_size: Optional[int],
                     allow_remote: bool, cost_us: int = 0) -> ServerSpec:
    """Check every ``serve`` option and resolve it into one ServerSpec; UsageError names the first problem."""
    spec = BACKENDS.get(backend)
    options = resolve_options(spec, selector, loop)
    if protocol != ProtocolName.FILE:
        for option, given in (("--root", root is not None), ("--max-file-size", max_file_size is not None)):
            if given:
                raise UsageError(f"{option} applies to --protocol file, not {protocol}")
    if host == "0.0.0.0":
        if not allow_remote:
            raise UsageError("--host 0.0.0.0 listens on every interface; pass --allow-remote to allow it")
        address = host
    else:
        address = check_destination(host, allow_remote, "--host")
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is outside 0-65535")
    if not 0 <= cost_us <= MAX_COST_US:
        raise UsageError(f"--cost-us must be 0-{MAX_COST_US:,} (a second), got {cost_us}")
    if cost_us and protocol == ProtocolName.FILE:
        raise UsageError("--cost-us applies to --protocol echo or upper, not file")
    return ServerSpec(backend=spec, options=options, protocol=protocol, host=address, port=port, root=root,
                      max_file_size=max_file_size, cost_us=cost_us)


def summary_line(final: ServerStatus, seconds: float) -> str:
    """What a stopped server served, in one line."""
    limit = f"; limit met: {final.limit.reason} ({final.limit.message})" if final.limit else ""
    return (f"served {final.accepted:,} connections in {seconds:.1f} s: {final.bytes_in:,} bytes in, "
            f"{final.bytes_out:,} out, {final.errors:,} errors, {final.resets:,} reset by their clients{limit}\n")


@contextmanager
def _stopping_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """Call ``stop`` on SIGINT or SIGTERM while inside (the main thread only can); the handlers are put back after."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve_until_signalled(server: ServerBase, on_stats: Optional[Callable[[ServerStatus], None]] = None,
                          on_ready: Optional[Callable[[], None]] = None) -> tuple[ServerStatus, float]:
    """Serve in this thread until SIGINT or SIGTERM; return the final counters and the seconds served.

    ``on_ready`` runs once the signals stop the server cleanly: a script that reads the address
    and signals at once must not catch the process before then.
    """
    with _stopping_on_signals(server.stop):
        if on_ready is not None:
            on_ready()
        reporter = None
        done = threading.Event()
        if on_stats is not None:
            def report() -> None:
                while not done.wait(STATS_INTERVAL):
                    on_stats(server.status())

            reporter = threading.Thread(target=report, name="netprobe-stats", daemon=True)
            reporter.start()
        started = time.monotonic()
        try:
            server.serve()
        finally:
            done.set()
            if reporter is not None:
                reporter.join(2 * STATS_INTERVAL)
            final = server.status(), round(time.monotonic() - started, 3)
            server.close()
    return final


def serve_group_until_signalled(group: ServerGroup, on_stats: Optional[Callable[[ServerStatus], None]] = None,
                                on_ready: Optional[Callable[[], None]] = None
                                ) -> tuple[ServerStatus, float, str, list[str]]:
    """Keep a server of several processes up until SIGINT or SIGTERM, or until one of them ends.

    Returns the living members' summed counters, the seconds served, the spread (each living
    process's accepted count: how the kernel shared the connections), and how each member that
    ended on its own ended. A group that lost a process is not the server asked for, so it stops.
    """
    stop = threading.Event()
    started = time.monotonic()
    with _stopping_on_signals(stop.set):
        try:
            if on_ready is not None:
                on_ready()
            ended: list[str] = []
            while not stop.wait(STATS_INTERVAL):
                ended = group.ended()
                if ended:
                    break
                if on_stats is not None:
                    on_stats(ServerStatus.total(group.living_statuses()))
            parts = group.living_statuses()
            spread = ", ".join(f"{p.accepted:,}" for p in parts)
            return ServerStatus.total(parts), round(time.monotonic() - started, 3), spread, ended or group.ended()
        finally:
            group.close()


def group_live_line(group: ServerGroup) -> Callable[[ServerStatus], None]:
    """A live line for a server of several processes: their fds and RSS summed."""
    import psutil

    from netprobe import platform
    from netprobe.render import units

    procs = [psutil.Process(pid) for pid in group.pids]

    def line(status: ServerStatus) -> None:
        try:
            fds = [platform.process_fds(p) for p in procs]
            rss = sum(p.memory_info().rss for p in procs)
        except psutil.NoSuchProcess:
            return  # a member just ended: the group stops at its next look
        known = None if None in fds else sum(f for f in fds if f is not None)
        sys.stderr.write(
            f"\rconnections {status.held:,}  accepted {status.accepted:,}  processes {len(procs)}  "
            f"fds {units.count(known)}  RSS {units.size(rss)}  errors {status.errors:,}   ")
        sys.stderr.flush()

    return line


def live_line(status: ServerStatus) -> None:
    """One refreshed line of counters on a terminal, with this process's fds and RSS."""
    import psutil

    from netprobe import platform
    from netprobe.render import units

    me = psutil.Process()
    sys.stderr.write(
        f"\rconnections {status.held:,}  accepted {status.accepted:,}  "
        f"fds {units.count(platform.process_fds(me))}  RSS {units.size(me.memory_info().rss)}  "
        f"in {status.bytes_in:,} B  out {status.bytes_out:,} B  errors {status.errors:,}   ")
    sys.stderr.flush()
