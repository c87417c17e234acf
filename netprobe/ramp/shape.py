"""Where a ramp on this machine runs: its server (a target, in this process, a child or a group) and its holder.

The engine (``netprobe.ramp.runner``) drives whatever these start the same way; what they chose is
said in the run's notes, and a spread ramp's processes are listed with their shares at the end.
"""

from __future__ import annotations

from typing import Optional

from netprobe import platform
from netprobe.clients.holder import ConnectionHolder
from netprobe.common_records import Note, SelectorCap
from netprobe.errors import ServerGone
from netprobe.models.ramp import ProcessShare
from netprobe.probes import probe_of
from netprobe.ramp.placement import ExternalTarget, InProcessServer
from netprobe.ramp.processes import CLIENT_FD_RESERVE, busiest_share, local_sources
from netprobe.ramp.target import find_target_processes
from netprobe.ramp_spec import Address, RampSpec
from netprobe.selector_catalog import NO_CAP
from netprobe.servers.handle import ServerHandle
from netprobe.servers.process import ChildServer
from netprobe.sockets import is_loopback
from netprobe.vocabulary import Side, Verify

PAYLOAD = b"netprobe ping\n"


def start_server(spec: RampSpec, goal: int, notes: list[Note]) -> ServerHandle:
    """The ramp's server, ready for ``goal`` connections: the external target, one in this process, or children."""
    if spec.target_address is not None:
        return ExternalTarget(spec.target_address, find_target_processes(spec.target_address, notes))
    if spec.in_process:
        return InProcessServer(spec.backend, spec.server_options, spec.ports, spec.client.drives_inline_server)
    if spec.server_processes > 1:
        from netprobe.servers.group import ServerGroup

        share = busiest_share(goal, spec.server_processes)
        group = ServerGroup(spec.server_spec(want_fds=share + CLIENT_FD_RESERVE), spec.server_processes)
        notes.append(Note("server.processes", f"netprobe's server runs as {spec.server_processes} processes on one "
                                              "port (SO_REUSEPORT), each with its own fd limit"))
        return group
    server = ChildServer(spec.server_spec(want_fds=goal + CLIENT_FD_RESERVE))
    if server.raised_from is not None:
        notes.append(Note("server.fd_limit", f"the server raised its soft fd limit from {server.raised_from} to "
                                             f"{server.soft_limit}"))
    return server


def start_holder(spec: RampSpec, goal: int, addresses: list[Address], source_ips: Optional[list[str]], batch: int,
                 notes: list[Note]) -> ConnectionHolder:
    """The holder of a ramp on this machine: the client model in this process, or spread over child processes."""
    if spec.client_processes == 1:
        return spec.client.create(addresses, source_ips, PAYLOAD, spec.verify, batch, probe_of(spec.probe))
    from netprobe.clients.spread import SpreadClient

    share = -(-goal // spec.client_processes)
    sources = local_sources(goal, spec.client_processes, spec.source_ips)
    each = (f"each from {len(sources[0])} loopback address(es) of its own" if sources[0]
            else "all from 127.0.0.1")
    notes.append(Note("client.processes", f"the {spec.client.name} client runs as {spec.client_processes} "
                                          f"processes, {each}"))
    return SpreadClient(addresses, sources, PAYLOAD, spec.verify, batch,
                        spec.client, share + CLIENT_FD_RESERVE, spec.probe)


def process_shares(server: Optional[ServerHandle], holder: Optional[ConnectionHolder]) -> Optional[list[ProcessShare]]:
    """Each process of a spread ramp: what it holds, its fds and RSS, as the kernel and it say now."""
    import psutil

    from netprobe.clients.spread import SpreadClient
    from netprobe.servers.group import ServerGroup

    held: list[tuple[Side, int, int]] = []
    if isinstance(server, ServerGroup):
        try:
            held += [(Side.SERVER, pid, s.held) for pid, s in zip(server.pids, server.statuses())]
        except ServerGone:
            return None
    if isinstance(holder, SpreadClient):
        held += [(Side.CLIENT, pid, n) for pid, n in zip(holder.pids, holder.held_by)]
    shares = []
    for side, pid, count in held:
        try:
            proc = psutil.Process(pid)
            fds, rss = platform.process_fds(proc), proc.memory_info().rss
        except (psutil.Error, OSError):
            fds = rss = None
        shares.append(ProcessShare(side, pid, count, fds, rss))
    return shares


def what_cannot_be_told(spec: RampSpec) -> list[Note]:
    """A note where a connection-only check cannot tell accepted connections from queued ones; else none."""
    if spec.target_address is None or spec.verify != Verify.CONNECT:
        return []
    if not is_loopback(spec.target_address[0]):
        why = "a server on another machine"
    elif not platform.READS_LISTEN_QUEUE:
        why = "this OS, which does not tell netprobe a listener's accept queue,"
    else:
        return []
    return [Note("held", f"with --verify connect, connections waiting in the listen queue of {why} cannot be told "
                         "from accepted ones: --probe checks that the server serves each one")]


def watch_cap(server: ServerHandle) -> SelectorCap:
    """What caps the loop of netprobe's own server: its own cap, or select()'s if it waits with select()."""
    if server.watch_cap is not None:
        return server.watch_cap
    return platform.probe_select_cap() if server.waits_with == "SelectSelector" else NO_CAP
