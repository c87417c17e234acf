"""What every server backend shares: listeners, counters, and the record of the limit it met.

A backend is one small class: ``serve()`` runs until ``stop()``, ``status()`` returns its
counters (safe from another thread), ``close()`` releases everything. Limits are recorded
(with the exact count held), never raised, so a controller can say what broke and where.
"""

from __future__ import annotations

import socket
from typing import Any, Optional

from netprobe import platform
from netprobe.errors import UsageError
from netprobe.protocols import Protocol, make_protocol

# Bytes one connection may have waiting to be sent before the server stops reading from it.
MAX_PENDING = 64 * 1024
RECV_SIZE = 16 * 1024
# How long accepting pauses after EMFILE, doubling up to the maximum, so no loop ever spins.
ACCEPT_BACKOFF = 0.05
ACCEPT_BACKOFF_MAX = 1.0
# Errors of accept() that mean "out of a resource": pause accepting, keep serving.
ACCEPT_LIMITS = ("fd_limit", "system_fd_limit", "memory")


class ServerBase:
    """Listening sockets on ``host`` (``ports`` of them, the first on ``port``) and the counters."""

    name = "base"

    def __init__(self, protocol: Optional[Protocol] = None, host: str = "127.0.0.1", port: int = 0,
                 ports: int = 1, backlog: int = socket.SOMAXCONN) -> None:
        self.protocol = protocol or make_protocol("echo")
        self.listeners: list = []
        self.held = 0
        self.accepted = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.errors = 0
        self.accept_errors = 0
        self.limit: Optional[dict[str, Any]] = None
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

    def status(self) -> dict[str, Any]:
        """Counters safe to read from another thread."""
        return {
            "held": self.held,
            "accepted": self.accepted,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "errors": self.errors,
            "accept_errors": self.accept_errors,
            "limit": self.limit,
        }

    def stop(self) -> None:
        self._running = False

    def _record_limit(self, reason: str, code: Optional[int], message: str, **extra: Any) -> None:
        if self.limit is None:
            self.limit = {"reason": reason, "errno": platform.errno_name(code), "message": message,
                          "held": self.held, **extra}

    def _accept_failed(self, exc: OSError) -> Optional[float]:
        """Record an accept() error; return how long to pause accepting, or None if it was transient."""
        reason = platform.classify_errno(exc.errno, "accept")
        if reason not in ACCEPT_LIMITS:
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
