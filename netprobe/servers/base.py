"""What every server backend shares: listeners, counters, and the record of the limit it met.

A backend is one small class: ``serve()`` runs until ``stop()``, ``status()`` returns its
counters (safe from another thread), ``close()`` releases everything. Limits are recorded
(with the exact count held), never raised, so a controller can say what broke and where.
"""

from __future__ import annotations

import _socket
import errno
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Optional, TypeVar
from typing import Protocol as TypingProtocol

from netprobe import platform
from netprobe.common_records import SelectorCap
from netprobe.errors import PlatformError, ProtocolError, UsageError
from netprobe.protocols import Protocol, make_protocol
from netprobe.servers.registry import ServerOptions
from netprobe.servers.status import LimitMet, ServerStatus
from netprobe.stops import ACCEPT_LIMITS, StopReason
from netprobe.vocabulary import Operation

# Bytes one connection may have waiting to be sent before the server stops reading from it.
MAX_PENDING = 64 * 1024
RECV_SIZE = 16 * 1024
# How long accepting pauses after EMFILE, doubling up to the maximum, so no loop ever spins.
ACCEPT_BACKOFF = 0.05
ACCEPT_BACKOFF_MAX = 1.0
# How long an accept loop of its own rests after an accept() error of no known kind: never spinning.
UNKNOWN_ACCEPT_ERROR_PAUSE = 0.2
# A connection as a backend holds it: socket.socket, or the C type under it (the selectors backend's).
_Sock = TypeVar("_Sock", bound=_socket.socket)


class Counters(TypingProtocol):
    """Where a connection's bytes and errors are counted: the server, or the connection's own record."""

    bytes_in: int
    bytes_out: int
    errors: int
    resets: int


# errnos that mean the client reset or abandoned the connection: counted as resets, not errors.
_RESETS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED, getattr(errno, "WSAECONNRESET", 10054),
                     getattr(errno, "WSAECONNABORTED", 10053)})


def count_failure(counters: Counters, exc: OSError) -> None:
    """Count a connection's OSError: a reset by the client (netprobe ramps end with RST) or a real error."""
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)) or exc.errno in _RESETS:
        counters.resets += 1
    else:
        counters.errors += 1


class ServerBase(ABC):
    """Listening sockets on ``host`` (``ports`` of them, the first on ``port``) and the counters.

    Every backend takes the same arguments, so the registry can create any of them.
    """

    name = "base"
    #: The selector class that waits for its sockets ("SelectSelector" means select()'s caps apply).
    waits_with: Optional[str] = None
    #: A cap of its loop's own on the sockets it watches (gevent's libev on Windows), where it has one.
    watch_cap: Optional[SelectorCap] = None
    #: Whether ``step()`` runs one turn of its loop, so a client in the same thread can drive it.
    steppable: bool = False

    def __init__(self, protocol: Optional[Protocol] = None, host: str = "127.0.0.1", port: int = 0,
                 ports: int = 1, backlog: int = socket.SOMAXCONN, *,
                 options: Optional[ServerOptions] = None) -> None:
        self.options = options or ServerOptions()
        self.protocol = protocol or make_protocol("echo")
        self.listeners: list[socket.socket] = []
        self.held = 0
        self.accepted = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.errors = 0
        self.resets = 0
        self.accept_errors = 0
        self.limit: Optional[LimitMet] = None
        self._running = True
        self._backoff = ACCEPT_BACKOFF
        self._accepting = True
        self._resume_at = 0.0  # when a paused accept() may run again
        self._capped = False  # select() refused the set: accept again once a connection closes
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            for i in range(ports):
                lsock = self._new_socket(family)
                self.listeners.append(lsock)
                platform.allow_rebind(lsock)
                if self.options.share_port:
                    platform.share_port(lsock)
                lsock.bind((host, port if i == 0 else 0))
                lsock.listen(backlog)
            self._addresses = [lsock.getsockname()[:2] for lsock in self.listeners]
        except PlatformError as exc:
            self._close_listeners()
            raise UsageError(str(exc)) from None
        except OSError as exc:
            self._close_listeners()
            name = platform.errno_name(exc.errno)
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc} ({name})") from None

    def _new_socket(self, family: int) -> socket.socket:
        return socket.socket(family, socket.SOCK_STREAM)

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The (host, port) of every listener."""
        return self._addresses

    @property
    def accepting(self) -> bool:
        """Whether the server takes new connections now (it pauses at a limit)."""
        return self._accepting

    # --- the accept gate of event-loop backends: paused for a while at a resource limit, or
    # until a connection closes at select()'s cap, so a full accept queue never makes the loop spin

    def _set_accepting(self, on: bool) -> None:
        """Open or close the gate; a backend whose loop watches its listeners (un)registers them here."""
        self._accepting = on

    def _pause_accepting(self, seconds: float) -> None:
        """Stop accepting for ``seconds`` (out of fds or memory: the listener stays readable meanwhile)."""
        self._set_accepting(False)
        self._resume_at = time.monotonic() + seconds

    def _stop_accepting_at_cap(self) -> None:
        """Stop accepting until a connection closes: select() cannot watch one more."""
        self._set_accepting(False)
        self._resume_at = float("inf")
        self._capped = True

    def _shed_newest_at_select_cap(self, socks: list[_Sock], drop: Callable[[_Sock], None],
                                   select_again: Callable[[], object], exc: ValueError) -> None:
        """Drop the newest connections until select() takes the set again, then stop accepting.

        A new accept would reuse the shed fd number and fail the same way: accepting waits until a
        connection closes and frees a number (a place, on Windows) select() can watch.
        """
        shed_fd = None
        for sock in sorted(socks, key=lambda s: -s.fileno()):
            shed_fd = sock.fileno()
            drop(sock)
            try:
                select_again()
                break
            except ValueError:
                continue
        self._stop_accepting_at_cap()
        self._record_limit(StopReason.SELECT_LIMIT, None, str(exc), at_fd=shed_fd)

    def _resume_accepting_if_due(self) -> None:
        """Open the gate again once a pause is over; called at the top of every loop turn."""
        if not self._accepting and time.monotonic() >= self._resume_at:
            self._set_accepting(True)

    def _connection_gone(self) -> None:
        """A connection closed: at select()'s cap, that frees room for one more."""
        if self._capped and self._running:
            self._capped = False
            self._set_accepting(True)

    def status(self) -> ServerStatus:
        """Counters safe to read from another thread."""
        return ServerStatus(self.held, self.accepted, self.bytes_in, self.bytes_out, self.errors,
                            self.accept_errors, self.limit, self.accepting, self.resets)

    def stop(self) -> None:
        """Ask ``serve()`` to return; safe from another thread or a signal handler."""
        self._running = False

    def _record_limit(self, reason: StopReason, code: Optional[int], message: str,
                      at_fd: Optional[int] = None) -> None:
        if self.limit is None:
            self.limit = LimitMet(reason, platform.errno_name(code), message, self.held, at_fd)

    def _accept_failed(self, exc: OSError) -> Optional[float]:
        """Record an accept() error; return how long to pause accepting, 0 to accept on, None if unknown.

        A connection its peer reset before it was accepted is that peer's: counted as a reset,
        and accepting goes on at once (a client that resets in a loop must not stall the rest).
        """
        if platform.peer_left_before_accept(exc):
            self.resets += 1
            return 0.0
        reason = platform.classify_errno(exc.errno, Operation.ACCEPT)
        if reason is None or reason not in ACCEPT_LIMITS:
            return None
        self.accept_errors += 1
        self._record_limit(reason, exc.errno, exc.strerror or str(exc))
        pause = self._backoff
        self._backoff = min(self._backoff * 2, ACCEPT_BACKOFF_MAX)
        return pause

    def _wait_after_accept_error(self, exc: OSError) -> float:
        """Seconds an accept loop of its own (a task, greenlet or thread) waits before accepting again.

        A limit's back-off; none after a client that left; a short rest after an error of no known
        kind, counted as an error while the server runs.
        """
        pause = self._accept_failed(exc)
        if pause is None:
            if self._running:
                self.errors += 1
            pause = UNKNOWN_ACCEPT_ERROR_PAUSE
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

    def start_control(self, loop: Callable[[], None]) -> None:
        """Run ``loop`` (the child's stdin reader) beside ``serve()``: a thread here."""
        import threading

        threading.Thread(target=loop, name="netprobe-control", daemon=True).start()

    def _serve_blocking(self, sock: Any, counters: Counters, let_others_run: Callable[[], None]) -> bool:
        """Serve one connection with blocking calls until it ends; return whether the client ended it cleanly.

        The session loop of the thread-per-connection and greenlet backends: each blocking call
        holds up this connection only, which is their back-pressure. ``counters`` takes the
        bytes and errors; OSError is the caller's to count (a reset, or close() waking it).
        """
        session = None if self.protocol.stateless else self.protocol.session()
        try:
            while self._running:
                data = sock.recv(RECV_SIZE)
                if not data:
                    return True  # the client is done: every reply is already sent
                counters.bytes_in += len(data)
                if session is None:
                    out = self.protocol.reply(data)
                    sock.sendall(out)
                    counters.bytes_out += len(out)
                    if len(data) == RECV_SIZE:
                        # A full read: more is waiting, so recv() will not block and switch. Let the
                        # others run, or a client that streams keeps every other one waiting.
                        let_others_run()
                    continue
                try:
                    session.received(data)
                except ProtocolError as exc:
                    counters.errors += 1
                    session.fail(str(exc))
                while session.has_output and self._running:
                    out = session.pull(MAX_PENDING)
                    if out:
                        sock.sendall(out)
                        counters.bytes_out += len(out)
                    # One pull per turn: a client that pipelines requests answered at once (and
                    # a large file hashed a slice at a time) lets the other greenlets run between.
                    let_others_run()
                if session.closing:
                    return True
            return False
        finally:
            if session is not None:
                counters.errors += session.errors
                session.close()

    @abstractmethod
    def serve(self) -> None:
        """Serve until ``stop()``; limits are recorded, never raised."""

    def step(self, timeout: float) -> bool:
        """One turn of the loop, waiting up to ``timeout``; only where ``steppable``."""
        raise TypeError(f"the {self.name} backend has no loop a client can step")

    @abstractmethod
    def close(self) -> None:
        """Release every socket and resource."""
