"""A non-blocking echo server on one selector that reports the limit that stopped it.

The tutorial's ``SelectorsServer`` generalised: the selector is chosen by class name,
each readiness on a listener accepts until the queue is empty, and instead of dying on
a limit the server records it (select()'s ValueError, EMFILE on accept) with the exact
number of connections it held, so the ramp controller can say what broke and where.
"""

from __future__ import annotations

import errno
import selectors
import socket
import time
from typing import Any, Callable, Optional

from netprobe import platform
from netprobe.sockets import abort

# Bytes one connection may have waiting to be sent before the server stops reading from it.
MAX_PENDING = 64 * 1024
RECV_SIZE = 16 * 1024
# How long accepting pauses after EMFILE, doubling up to the maximum, so the loop never spins.
ACCEPT_BACKOFF = 0.05
ACCEPT_BACKOFF_MAX = 1.0


# Selector data of a listening socket; a connection's is None, so it costs no object of its own.
_LISTENER = "listener"


class SelectorServer:
    """Echo server on ``selector_class``, listening on ``ports`` ports of ``host``."""

    def __init__(self, selector_class: str, host: str = "127.0.0.1", ports: int = 1,
                 backlog: int = socket.SOMAXCONN,
                 transform: Optional[Callable[[bytes], bytes]] = None) -> None:
        self.selector_class = selector_class
        self.transform = transform
        self.listeners: list[socket.socket] = []
        # Output not yet sent, only for connections that have some: most never do.
        self.pending: dict[int, bytes] = {}
        self.held = 0
        self.accepted = 0
        self.bytes_in = 0
        self.errors = 0
        self.limit: Optional[dict[str, Any]] = None
        self._accepting = True
        self._resume_at = 0.0
        self._backoff = ACCEPT_BACKOFF
        self._running = True
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sel: selectors.BaseSelector = getattr(selectors, selector_class)()
        try:
            for _ in range(ports):
                lsock = socket.socket(family, socket.SOCK_STREAM)
                self.listeners.append(lsock)
                lsock.bind((host, 0))
                lsock.listen(backlog)
                lsock.setblocking(False)
                self.sel.register(lsock, selectors.EVENT_READ, _LISTENER)
        except BaseException:
            self.close()
            raise

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [lsock.getsockname()[:2] for lsock in self.listeners]

    def connections(self) -> list[socket.socket]:
        """The connected sockets this server holds."""
        return [key.fileobj for key in list(self.sel.get_map().values()) if key.data is None]

    def status(self) -> dict[str, Any]:
        """Return counters safe to read from another thread."""
        return {
            "held": self.held,
            "accepted": self.accepted,
            "bytes_in": self.bytes_in,
            "errors": self.errors,
            "accepting": self._accepting,
            "limit": self.limit,
        }

    def stop(self) -> None:
        self._running = False

    # --- event loop

    def serve(self, poll_interval: float = 0.05) -> None:
        """Run until ``stop()``; limits are recorded, never raised."""
        while self._running:
            if not self._accepting and time.monotonic() >= self._resume_at:
                self._set_accepting(True)
            try:
                events = self.sel.select(poll_interval)
            except ValueError as exc:
                # select() refused the set: fd number >= FD_SETSIZE on POSIX, too many sockets on Windows.
                self._shed_newest(exc)
                continue
            for key, mask in events:
                if key.data is None:
                    self._service(key.fileobj, key.fd, mask)
                else:
                    self._accept(key.fileobj)

    def _record_limit(self, reason: str, code: Optional[int], message: str, **extra: Any) -> None:
        if self.limit is None:
            self.limit = {"reason": reason, "errno": platform.errno_name(code), "message": message,
                          "held": self.held, **extra}

    def _set_accepting(self, on: bool) -> None:
        if on == self._accepting:
            return
        for lsock in self.listeners:
            if on:
                self.sel.register(lsock, selectors.EVENT_READ, _LISTENER)
            else:
                self.sel.unregister(lsock)
        self._accepting = on

    def _shed_newest(self, exc: ValueError) -> None:
        """Drop the newest connections until select() accepts the set again, then stop accepting."""
        shed_fd = None
        for sock in sorted(self.connections(), key=lambda s: -s.fileno()):
            shed_fd = sock.fileno()
            self._drop(sock, shed_fd)
            try:
                self.sel.select(0)
                break
            except ValueError:
                continue
        # Every new accept would reuse the shed fd number and fail the same way.
        self._set_accepting(False)
        self._resume_at = float("inf")
        self._record_limit("select_limit", None, str(exc), at_fd=shed_fd)

    def _accept(self, lsock: socket.socket) -> None:
        while True:
            try:
                sock, _ = lsock.accept()
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            except OSError as exc:
                reason = platform.classify_errno(exc.errno, "accept")
                if reason in ("fd_limit", "system_fd_limit", "memory"):
                    # The listener stays readable while the queue is full: pause it or the loop spins.
                    self._record_limit(reason, exc.errno, exc.strerror or str(exc))
                    self._set_accepting(False)
                    self._resume_at = time.monotonic() + self._backoff
                    self._backoff = min(self._backoff * 2, ACCEPT_BACKOFF_MAX)
                    return
                if exc.errno in (errno.ECONNABORTED, errno.EPROTO):
                    continue  # the peer gave up before we accepted
                raise
            self._backoff = ACCEPT_BACKOFF
            sock.setblocking(False)
            self.held += 1
            self.accepted += 1
            fd = sock.fileno()
            self.sel.register(sock, selectors.EVENT_READ, None)
            # Clients usually send right after connecting: answering now saves a trip through select().
            self._service(sock, fd, selectors.EVENT_READ)

    def _service(self, sock: socket.socket, fd: int, mask: int) -> None:
        pending = self.pending.pop(fd, b"")
        had_pending = bool(pending)
        if mask & selectors.EVENT_READ:
            try:
                data = sock.recv(RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                self.errors += 1
                self._drop(sock, fd)
                return
            if data == b"":
                self._drop(sock, fd)
                return
            if data:
                self.bytes_in += len(data)
                pending += self.transform(data) if self.transform is not None else data
        if pending:
            try:
                pending = pending[sock.send(pending):]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self.errors += 1
                self._drop(sock, fd)
                return
        if not (pending or had_pending):
            return  # the usual case: nothing waits, and the socket stays registered for reading
        if pending:
            self.pending[fd] = pending
        # Back-pressure: a peer that does not read stops being read once MAX_PENDING waits for it.
        wanted = (selectors.EVENT_WRITE if pending else 0) | (
            selectors.EVENT_READ if len(pending) < MAX_PENDING else 0)
        if self.sel.get_key(sock).events != wanted:
            self.sel.modify(sock, wanted, None)

    def _drop(self, sock: socket.socket, fd: int) -> None:
        self.held -= 1
        self.pending.pop(fd, None)
        try:
            self.sel.unregister(sock)
        except (KeyError, ValueError):
            pass
        abort(sock)

    def close(self) -> None:
        """Close every connection (abortively), the listeners and the selector."""
        for sock in self.connections():
            self._drop(sock, sock.fileno())
        for lsock in self.listeners:
            abort(lsock)
        self.listeners = []
        self.sel.close()
