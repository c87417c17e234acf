"""Where the ramp's server runs: a child process (``ChildServer``), inside this process, or not netprobe's."""

from __future__ import annotations

import threading
from typing import Optional

from netprobe.errors import ServerGone
from netprobe.ramp.target import TargetProcesses
from netprobe.servers.handle import ServerHandle
from netprobe.servers.registry import BackendSpec, ServerOptions
from netprobe.servers.status import ServerStatus
from netprobe.vocabulary import ServerKind


class InProcessServer(ServerHandle):
    """A backend inside this process: every connection costs this process 2 fds.

    A backend with a steppable event loop is driven by the client between its own events
    (``inline``): one thread, no GIL hand-offs. Two Python threads that both make a system call
    per connection hand the GIL to each other at every call, which on loopback costs more than
    the connection itself (measured: a bare threaded connect/accept loop runs at about a third
    of a single-threaded one). Other backends run ``serve()`` on a thread of their own.
    """

    kind = ServerKind.IN_PROCESS

    def __init__(self, backend: BackendSpec, options: ServerOptions, ports: int, inline: bool) -> None:
        from netprobe.protocols import make_protocol
        from netprobe.vocabulary import ProtocolName

        self.server = backend.create(make_protocol(ProtocolName.ECHO), "127.0.0.1", 0, ports, options)
        self.addresses = self.server.addresses
        self.waits_with = self.server.waits_with
        self.watch_cap = self.server.watch_cap
        self._thread: Optional[threading.Thread] = None
        self._crash: Optional[BaseException] = None
        if inline and self.server.steppable:
            self.step = self.server.step
            return
        self._thread = threading.Thread(target=self._serve, name="netprobe-server", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            self.server.serve()
        except BaseException as exc:  # reported through status(); the ramp names it server_exited
            self._crash = exc

    def status(self) -> ServerStatus:
        """The server's counters; ServerGone if its thread died."""
        if self._crash is not None:
            raise ServerGone(f"the server thread died: {type(self._crash).__name__}: {self._crash}")
        return self.server.status()

    def close(self) -> None:
        """Stop the server, wait for its thread, release its sockets."""
        self.server.stop()
        if self._thread is not None:
            # A stopped server ends in a fraction of a second, gevent's within its KILL_WAIT; the
            # bound is for a machine too busy to run the thread, which still holds its connections.
            self._thread.join(timeout=30)
        self.server.close()


class ExternalTarget(ServerHandle):
    """A server netprobe did not start: its counters are its own; on this machine, its processes can be read."""

    kind = ServerKind.EXTERNAL

    def __init__(self, address: tuple[str, int], processes: Optional[TargetProcesses] = None) -> None:
        self.addresses = [address]
        self.processes = processes
        if processes is not None:
            self.pid, self.name = processes.pids[0], processes.name
            if len(processes.acceptors()) == 1:  # a limit per process: the one that accepts binds
                self.soft_limit = processes.soft_limit

    def fd_ceiling(self) -> Optional[tuple[int, str]]:
        """The room its accepting processes' fd limits leave, and how it was counted; None where unknown."""
        return self.processes.fd_ceiling() if self.processes is not None else None

    @property
    def pids(self) -> list[int]:
        """The processes listening at its address, where this machine's kernel named them."""
        return self.processes.pids if self.processes is not None else []

    def status(self) -> Optional[ServerStatus]:
        """Nothing: netprobe cannot see another program's counters; raises ServerGone once its processes are gone."""
        gone = self.processes.gone() if self.processes is not None else None
        if gone is not None:
            raise ServerGone(gone)
        return None

    def close(self) -> None:
        """Nothing to stop."""
