"""What every server backend shares: listeners, counters, and the record of the limit it met.

A backend is one small class: ``serve()`` runs until ``stop()``, ``status()`` returns its
counters (safe from another thread), ``close()`` releases everything. Limits are recorded
(with the exact count held), never raised, so a controller can say what broke and where.
"""

from __future__ import annotations

import socket
from typing import Optional

from netprobe import platform
from netprobe.errors import UsageError
from netprobe.protocols import Protocol, make_protocol
from netprobe.servers.registry import ServerOptions
from netprobe.servers.status import LimitMet, ServerStatus
from netprobe.vocabulary import ACCEPT_LIMITS, Operation, StopReason

# Bytes one connection may have waiting to be sent before the server stops reading from it.
MAX_PENDING = 64 * 1024
RECV_SIZE = 16 * 1024
# How long accepting pauses after EMFILE, doubling up to the maximum, so no loop ever spins.
ACCEPT_BACKOFF = 0.05
ACCEPT_BACKOFF_MAX = 1.0


class ServerBase:
    """Listening sockets on ``host`` (``ports`` of them, the first on ``port``) and the counters.

    Every backend takes the same arguments, so the registry can create any of them.
    """

    name = "base"
    #: The selector class that waits for its sockets ("SelectSelector" means select()'s caps apply).
    selector_label: Optional[str] = None

    def __init__(self, protocol: Optional[Protocol] = None, host: str = "127.0.0.1", port: int = 0,
                 ports: int = 1, backlog: int = socket.SOMAXCONN, *,
                 options: Optional[ServerOptions] = None) -> None:
        self.options = options or ServerOptions()
        self.protocol = protocol or make_protocol("echo")
        self.listeners: list = []
        self.held = 0
        self.accepted = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.errors = 0
        self.accept_errors = 0
        self.limit: Optional[LimitMet] = None
        self._running = True
        self._backoff = ACCEPT_BACKOFF
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            for i in range(ports):
                lsock = self._new_socket(family)
                self.listeners.append(lsock)
                platform.allow_rebind(lsock)
                lsock.bind((host, port if i == 0 else 0))
                lsock.listen(backlog)
            self._addresses = [lsock.getsockname()[:2] for lsock in self.listeners]
        except OSError as exc:
            self._close_listeners()
            name = platform.errno_name(exc.errno)
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc} ({name})") from None

    def _new_socket(self, family: int):
        return socket.socket(family, socket.SOCK_STREAM)

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return self._addresses

    @property
    def accepting(self) -> bool:
        """Whether the server takes new connections now (it pauses at a limit)."""
        return True

    def status(self) -> ServerStatus:
        """Counters safe to read from another thread."""
        return ServerStatus(self.held, self.accepted, self.bytes_in, self.bytes_out, self.errors,
                            self.accept_errors, self.limit, self.accepting)

    def stop(self) -> None:
        self._running = False

    def _record_limit(self, reason: StopReason, code: Optional[int], message: str,
                      at_fd: Optional[int] = None) -> None:
        if self.limit is None:
            self.limit = LimitMet(reason, platform.errno_name(code), message, self.held, at_fd)

    def _accept_failed(self, exc: OSError) -> Optional[float]:
        """Record an accept() error; return how long to pause accepting, or None if it was transient."""
        reason = platform.classify_errno(exc.errno, Operation.ACCEPT)
        if reason is None or reason not in ACCEPT_LIMITS:
            return None
        self.accept_errors += 1
        self._record_limit(reason, exc.errno, exc.strerror or str(exc))
        pause = self._backoff
        self._backoff = min(self._backoff * 2, ACCEPT_BACKOFF_MAX)
        return pause

    def _accepted(self) -> None:
        self._backoff = ACCEPT_BACKOFF
        self.held += 1
        self.accepted += 1

    def _close_listeners(self) -> None:
        from netprobe.sockets import abort

        for lsock in self.listeners:
            abort(lsock)
        self.listeners = []

    def start_control(self, loop) -> None:
        """Run ``loop`` (the child's stdin reader) beside ``serve()``: a thread here."""
        import threading

        threading.Thread(target=loop, name="netprobe-control", daemon=True).start()

    def serve(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError
