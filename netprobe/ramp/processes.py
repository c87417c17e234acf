"""How many processes a ramp needs on this machine, and every fd a process keeps beyond its connections.

A process holds at most its hard fd limit, less what it keeps for itself; past that a ramp of
netprobe's own server spreads its server and its client over several processes, each client from
loopback source addresses of its own.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

from netprobe import platform
from netprobe.ramp_spec import RampSpec
from netprobe.sockets import local_source_ips
from netprobe.vocabulary import Placement

# fds the client keeps free beyond its connections: the report, psutil, pipes to the server.
CLIENT_FD_RESERVE = 64
# fds a server child needs before its first connection (stdio, listeners, its loop), with room.
CHILD_MIN_FDS = 16
# fds netprobe's own process needs beyond those already open (psutil, pipes, the report file).
PROCESS_SPARE_FDS = 16
# fds a process of a spread ramp keeps beyond its connections (stdio, selector, pipes, psutil).
PROCESS_FD_RESERVE = 64
# Headroom for the busiest server process, in standard deviations of its share (see busiest_share).
SHARE_SIGMAS = 6


def busiest_share(connections: int, processes: int) -> int:
    """The most connections one of ``processes`` server processes on one port should be ready to hold.

    The kernel hands each connection to one SO_REUSEPORT listener by a hash of its addresses and
    ports, so the processes' shares vary like a binomial's: about the square root of the mean
    apart. At a million over 51 processes the mean is 19,608 and the busiest took 41 more than
    its fd budget of mean plus 64 (EMFILE at 999,959). Six standard deviations above the mean:
    at that count no process runs out.
    """
    mean = connections / processes
    return math.ceil(mean + SHARE_SIGMAS * math.sqrt(mean * (1 - 1 / processes)))


def connections_per_source() -> Optional[int]:
    """Connections one loopback source address carries to one server port before connect() slows down.

    connect() picks its port by walking the ephemeral range from a point past its last choice (even
    ports first, then odd), checking each taken port against the established sockets; with small
    random gaps it leaves, the walk grows as the range fills. A million-connection ramp whose
    client processes took half the range each (the whole even half) spent 9.4% of the machine's
    samples in ``__inet_check_established`` in its last steps against 0.9% in its first, and its
    steps grew from 4.3 s to 11.9 s. At a quarter of the range a walk stays short to the end.
    """
    ports = platform.read_system_facts().port_count
    return ports // 4 if ports else None


def local_sources(goal: Optional[int], processes: int, asked: int = 1, ipv6: bool = False) -> list[list[str]]:
    """The loopback source addresses of each of ``processes`` local client processes (spread clients, local workers).

    All connect from 127.0.0.1 while its ports carry the goal: a server that takes only 127.0.0.1
    (redis's protected mode) must not meet a wall netprobe made. Past a quarter of one address's
    ports (``connections_per_source``), or where the user asked for ``asked`` addresses, each
    process gets addresses of its own, as many as its share needs (where the OS routes 127/8).
    """
    per_source = connections_per_source()
    needed = asked
    if goal is not None and per_source:
        needed = max(needed, -(-goal // per_source))
    if needed <= 1:
        return [[] for _ in range(processes)]
    return local_source_ips(processes, ipv6=ipv6, each=-(-needed // processes))


def plan_processes(spec: RampSpec, server_processes_given: bool = False) -> RampSpec:
    """Spread a ramp of netprobe's own server over as many processes as one process's fd limit requires.

    A process holds at most its hard fd limit (less a reserve): a ``--to`` past it runs the server
    as several processes on one port (where the kernel spreads it: ``platform.SHARES_PORT``) and
    the client as several, each from loopback addresses of its own, as many as keep each address to
    a quarter of its ports (``connections_per_source``). A ``--to`` one process can hold stays in one process, so its
    own walls (ports included) are still the ones named; ``--processes N`` fixes the server's
    count (``--processes 1``: one server process's own wall, however many clients it takes).
    Anything that ties the ramp to one process (``--fd-limit``, the thread placement, ``--ports``,
    ``--source-ips``) keeps it there, and so does ``--churn``, whose goal is a rate, not connections held.
    """
    if (spec.to is None or spec.placement != Placement.PROCESS or spec.fd_limit is not None
            or spec.ports != 1 or spec.source_ips != 1 or spec.target_address is not None):
        return spec  # (--processes alone still chose the server's processes)
    if spec.traffic is not None and spec.traffic.churn:
        return spec  # churn's goal is a rate: it holds no connections to spread (more clients: --workers)
    _, hard, _ = platform.fd_limits()
    if hard is None:
        return spec  # no fd limit to spread past (Windows: handles)
    per_process = hard - PROCESS_FD_RESERVE
    if spec.to <= per_process:
        return spec  # one client process holds it; --processes alone still chose the server's
    servers = 1
    if platform.SHARES_PORT:
        servers = -(-spec.to // per_process)
        while busiest_share(spec.to, servers) > per_process:
            servers += 1
    if server_processes_given:
        servers = spec.server_processes
    # Where loopback aliases route, each client process holds its fd budget, from as many addresses
    # as its share needs (local_sources); elsewhere every process would share 127.0.0.1's ports.
    clients = -(-spec.to // per_process) if platform.can_bind_loopback_aliases() else 1
    if servers == spec.server_processes and clients == 1:
        return spec
    return dataclasses.replace(spec, server_processes=servers, client_processes=clients)
