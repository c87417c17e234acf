"""Where the ramp's server runs: a child process, inside this process, or an external target."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Optional, Protocol

from netprobe.servers.process import ChildServer, ServerGone
from netprobe.servers.registry import ServerOptions, make_backend
from netprobe.servers.status import ServerStatus

__all__ = ["ChildServer", "ExternalTarget", "InProcessServer", "RampServer", "ServerGone"]


class RampServer(Protocol):
    """A server the ramp connects to: a ChildServer, an InProcessServer or an ExternalTarget."""

    pid: Optional[int]
    soft_limit: Optional[int]
    raised_from: Optional[int]
    selector_label: Optional[str]
    addresses: list[tuple[str, int]]
    #: ``step(timeout)`` when the client must drive the server from its own thread, else None.
    step: Optional[Callable[[float], bool]]

    def status(self) -> Optional[ServerStatus]:
        """Its counters, or None where netprobe cannot see them; raises ServerGone if it died."""

    def close(self) -> None:
        """Stop it and release everything it holds."""


class InProcessServer:
    """A backend inside this process: every connection costs this process 2 fds.

    A backend with a steppable event loop is driven by the client between its own events
    (``inline``): one thread, no GIL hand-offs. Two Python threads that both make a system call
    per connection hand the GIL to each other at every call, which on loopback costs more than
    the connection itself (measured: a bare threaded connect/accept loop runs at about a third
    of a single-threaded one). Other backends run ``serve()`` on a thread of their own.
    """

    def __init__(self, backend: str, options: ServerOptions, ports: int, inline: bool) -> None:
        from netprobe.protocols import make_protocol

        self.server = make_backend(backend, make_protocol("echo"), "127.0.0.1", 0, ports, options)
        self.addresses = self.server.addresses
        self.selector_label: Optional[str] = self.server.selector_label
        self.pid: Optional[int] = None  # this process: sampled as the client
        self.soft_limit: Optional[int] = None
        self.raised_from: Optional[int] = None
        self.step: Optional[Callable[[float], bool]] = None
        self._thread: Optional[threading.Thread] = None
        self._crash: Optional[BaseException] = None
        if inline and hasattr(self.server, "step"):
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
        if self._crash is not None:
            raise ServerGone(f"the server thread died: {type(self._crash).__name__}: {self._crash}")
        return self.server.status()

    def close(self) -> None:
        self.server.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.server.close()


class ExternalTarget:
    """A server netprobe did not start: only the client side can be observed."""

    pid: Optional[int] = None
    soft_limit: Optional[int] = None
    raised_from: Optional[int] = None
    selector_label: Optional[str] = None
    step: Optional[Callable[[float], bool]] = None

    def __init__(self, address: tuple[str, int]) -> None:
        self.addresses = [address]

    def status(self) -> Optional[ServerStatus]:
        return None

    def close(self) -> None:
        pass
