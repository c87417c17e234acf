"""One server made of several processes listening on one port, the kernel spreading the connections.

A process holds as many connections as its fd limit allows (20,000 on this machine, which even
root cannot raise): a server that must hold more runs as several, as nginx and gunicorn do.
Each member is a ``ChildServer`` of the same spec, bound with the platform's ``share_port``
(Linux's SO_REUSEPORT: a listener and an accept queue per process, new connections spread by
a hash of their addresses). Its status is the members' summed; each member's is kept.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from netprobe import platform
from netprobe.errors import UsageError
from netprobe.servers.handle import ServerHandle
from netprobe.servers.process import ChildServer
from netprobe.servers.spec import ServerSpec
from netprobe.servers.status import ServerStatus
from netprobe.vocabulary import ServerKind

MAX_PROCESSES = 256


def check_processes(processes: int, ports: int = 1) -> None:
    """UsageError, before any work, where a server of ``processes`` processes cannot run here."""
    if not 1 <= processes <= MAX_PROCESSES:
        raise UsageError(f"--processes must be 1-{MAX_PROCESSES}, got {processes}")
    if processes > 1 and not platform.SHARES_PORT:
        raise UsageError("--processes above 1 needs a kernel that spreads one port's connections over "
                         "processes (Linux's SO_REUSEPORT); this one does not")
    if processes > 1 and ports > 1:
        raise UsageError("--processes above 1 listens on one port: it does not go with --ports")


class ServerGroup(ServerHandle):
    """``processes`` copies of one server spec, in processes of their own, on one shared port."""

    kind = ServerKind.GROUP

    def __init__(self, spec: ServerSpec, processes: int) -> None:
        check_processes(processes, spec.ports)
        shared = dataclasses.replace(spec, options=dataclasses.replace(spec.options, share_port=True))
        self.members: list[ChildServer] = []
        try:
            self.members.append(ChildServer(shared))
            port = self.members[0].addresses[0][1]  # where port 0 asked for any, the first chose it
            for _ in range(processes - 1):
                self.members.append(ChildServer(dataclasses.replace(shared, port=port)))
        except BaseException:
            self.close()
            raise
        first = self.members[0]
        self.addresses = first.addresses
        self.pid = None  # no one process is the server: the pids are
        self.soft_limit, self.raised_from, self.waits_with = first.soft_limit, first.raised_from, first.waits_with
        self.watch_cap = first.watch_cap

    @property
    def pids(self) -> list[int]:
        """Every member's process id."""
        return [m.pid for m in self.members if m.pid is not None]

    def statuses(self) -> list[ServerStatus]:
        """Each member's counters, in the order they started (ServerGone when one has ended)."""
        return [m.status() for m in self.members]

    def living_statuses(self) -> list[ServerStatus]:
        """The counters of the members still running."""
        return [m.status() for m in self.members if m.proc.poll() is None]

    def ended(self) -> list[str]:
        """How each member that ended on its own ended, its process reaped: one line each."""
        return [f"server process {m.pid} {m.how_it_ended()}" for m in self.members if m.proc.poll() is not None]

    def status(self) -> Optional[ServerStatus]:
        """The members' counters summed."""
        return ServerStatus.total(self.statuses())

    def close(self) -> None:
        """Stop every member: all are asked first, so they close their connections at the same time."""
        for member in self.members:
            member.ask_to_quit()
        for member in self.members:
            member.close()
