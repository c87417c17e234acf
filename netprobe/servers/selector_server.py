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


class Connection:
    __slots__ = ("sock", "pending", "events")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pending = b""
        self.events = selectors.EVENT_READ


class SelectorServer:
    """Echo server on ``selector_class``, listening on ``ports`` ports of ``host``."""

    def __init__(self, selector_class: str, host: str = "127.0.0.1", ports: int = 1,
                 backlog: int = socket.SOMAXCONN,
                 transform: Optional[Callable[[bytes], bytes]] = None) -> None:
        self.selector_class = selector_class
        self.transform = transform
        self.listeners: list[socket.socket] = []
        self.conns: dict[int, Connection] = {}
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
                self.sel.register(lsock, selectors.EVENT_READ, None)
        except BaseException:
            self.close()
            raise

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [lsock.getsockname()[:2] for lsock in self.listeners]

    def status(self) -> dict[str, Any]:
        """Return counters safe to read from another thread."""
        return {
            "held": len(self.conns),
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
                    self._accept(key.fileobj)
                else:
                    self._service(key.data, mask)

    def _record_limit(self, reason: str, code: Optional[int], message: str, **extra: Any) -> None:
        if self.limit is None:
            self.limit = {"reason": reason, "errno": platform.errno_name(code), "message": message,
                          "held": len(self.conns), **extra}

    def _set_accepting(self, on: bool) -> None:
        if on == self._accepting:
            return
        for lsock in self.listeners:
            if on:
                self.sel.register(lsock, selectors.EVENT_READ, None)
            else:
                self.sel.unregister(lsock)
        self._accepting = on

    def _shed_newest(self, exc: ValueError) -> None:
        """Drop the newest connections until select() accepts the set again, then stop accepting."""
        newest = sorted(self.conns, key=lambda fd: -fd)
        shed_fd = None
        for fd in newest:
            self._drop(self.conns[fd])
            shed_fd = fd
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
            conn = Connection(sock)
            self.conns[sock.fileno()] = conn
            self.accepted += 1
            self.sel.register(sock, selectors.EVENT_READ, conn)
            # Clients usually send right after connecting: answering now saves a trip through select().
            self._service(conn, selectors.EVENT_READ)

    def _service(self, conn: Connection, mask: int) -> None:
        sock = conn.sock
        if mask & selectors.EVENT_READ:
            try:
                data = sock.recv(RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                self.errors += 1
                self._drop(conn)
                return
            if data == b"":
                self._drop(conn)
                return
            if data:
                self.bytes_in += len(data)
                conn.pending += self.transform(data) if self.transform is not None else data
        if conn.pending:
            try:
                sent = sock.send(conn.pending)
                conn.pending = conn.pending[sent:]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self.errors += 1
                self._drop(conn)
                return
        # Back-pressure: a peer that does not read stops being read once MAX_PENDING waits for it.
        wanted = (selectors.EVENT_WRITE if conn.pending else 0) | (
            selectors.EVENT_READ if len(conn.pending) < MAX_PENDING else 0)
        if wanted != conn.events:
            conn.events = wanted
            self.sel.modify(sock, wanted, conn)

    def _drop(self, conn: Connection) -> None:
        fd = conn.sock.fileno()
        self.conns.pop(fd, None)
        try:
            self.sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        abort(conn.sock)

    def close(self) -> None:
        """Close every connection (abortively), the listeners and the selector."""
        for conn in list(self.conns.values()):
            self._drop(conn)
        for lsock in self.listeners:
            abort(lsock)
        self.listeners = []
        self.sel.close()
