"""The threads backend: one OS thread per connection, blocking calls, as in the tutorial's clients.

Simple to write and to reason about; each connection costs a thread (its stack, and a kernel
task), which ``bench echo`` and ``ramp --backend all`` show beside the event loops.

The connection threads share no lock. When thousands of clients leave at once, thousands of
threads wake together; had each to take one lock to update a counter, every lock hand-off
would wait for the GIL as well, and the server spent seconds (measured: 6 s for 5,000) doing
nothing else, its status included. Each connection counts its own bytes instead, and a
finished connection's counts go through a deque that only ``status()`` drains.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from typing import Optional

from netprobe.protocols import Protocol
from netprobe.servers.base import ServerBase, count_failure
from netprobe.servers.registry import ServerOptions
from netprobe.servers.status import ServerStatus
from netprobe.sockets import abort
from netprobe.stops import StopReason

# How often the accept loop wakes to notice stop().
TICK = 0.2
JOIN_TIMEOUT = 10.0


class _Conn:
    """One connection's thread and counters; only that thread writes them."""

    __slots__ = ("bytes_in", "bytes_out", "errors", "resets", "sock", "thread")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.thread: Optional[threading.Thread] = None
        self.bytes_in = 0
        self.bytes_out = 0
        self.errors = 0
        self.resets = 0


class ThreadPerConnectionServer(ServerBase):
    """One OS thread per connection with blocking calls, as the tutorial's threaded server."""

    name = "threads"

    def __init__(self, protocol: Optional[Protocol] = None, host: str = "127.0.0.1", port: int = 0,
                 ports: int = 1, backlog: int = socket.SOMAXCONN, *,
                 options: Optional[ServerOptions] = None) -> None:
        super().__init__(protocol, host, port, ports, backlog, options=options)
        self._conns: dict[int, _Conn] = {}  # id(conn) -> conn; dict operations are atomic under the GIL
        self._finished: deque[tuple[int, int, int, int]] = deque()  # (bytes in, out, errors, resets) of closed ones
        self._accept_lock = threading.Lock()  # acceptor threads only, one per extra listener
        for lsock in self.listeners:
            lsock.settimeout(TICK)

    def status(self) -> ServerStatus:
        while self._finished:
            bytes_in, bytes_out, errors, resets = self._finished.popleft()
            self.bytes_in += bytes_in
            self.bytes_out += bytes_out
            self.errors += errors
            self.resets += resets
        conns = list(self._conns.values())
        return ServerStatus(
            held=len(conns), accepted=self.accepted,
            bytes_in=self.bytes_in + sum(c.bytes_in for c in conns),
            bytes_out=self.bytes_out + sum(c.bytes_out for c in conns),
            errors=self.errors + sum(c.errors for c in conns),
            accept_errors=self.accept_errors, limit=self.limit, accepting=True,
            resets=self.resets + sum(c.resets for c in conns),
        )

    def serve(self) -> None:
        acceptors = [threading.Thread(target=self._accept_loop, args=(lsock,), daemon=True)
                     for lsock in self.listeners[1:]]
        for t in acceptors:
            t.start()
        self._accept_loop(self.listeners[0])
        for t in acceptors:
            t.join(JOIN_TIMEOUT)

    def _accept_loop(self, lsock: socket.socket) -> None:
        while self._running:
            try:
                sock, _ = lsock.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                with self._accept_lock:
                    self.held = len(self._conns)  # the limit records what is held now
                    pause = self._wait_after_accept_error(exc)
                if pause:
                    time.sleep(pause)  # out of fds: wait for some to be freed
                continue
            conn = _Conn(sock)
            conn.thread = thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            with self._accept_lock:
                self._accepted()
                self.held = len(self._conns) + 1
                self._conns[id(conn)] = conn
            try:
                thread.start()
            except RuntimeError as exc:  # can't start new thread: a resource limit, reported
                with self._accept_lock:
                    self.held = len(self._conns) - 1
                    self._record_limit(StopReason.THREAD_LIMIT, None, f"cannot start a thread: {exc}")
                self._forget(conn, graceful=False)

    def _handle(self, conn: _Conn) -> None:
        """Serve one connection, blocking; close() wakes it by shutting the socket down."""
        # Blocking without a timeout: thousands of threads that woke every tick to look at
        # _running would spend the server's CPU on wake-ups (5,000 at 0.2 s: 25,000 a second).
        conn.sock.settimeout(None)
        graceful = False
        try:
            graceful = self._serve_blocking(conn.sock, conn, lambda: time.sleep(0))
        except OSError as exc:
            if self._running:
                count_failure(conn, exc)
        finally:
            self._forget(conn, graceful)

    def _forget(self, conn: _Conn, graceful: bool) -> None:
        """Close a connection, then stop counting it: status() may count held at any moment."""
        if graceful:
            conn.sock.close()  # FIN after the replies still in the send buffer
        else:
            abort(conn.sock)
        if self._conns.pop(id(conn), None) is not None:
            self._finished.append((conn.bytes_in, conn.bytes_out, conn.errors, conn.resets))

    def close(self) -> None:
        self._running = False
        conns = list(self._conns.values())
        for conn in conns:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)  # wakes its thread out of recv() or sendall()
            except OSError:
                pass  # already closed by its own thread
        deadline = time.monotonic() + JOIN_TIMEOUT
        for conn in conns:
            if conn.thread is not None and conn.thread.is_alive():
                conn.thread.join(max(0.0, deadline - time.monotonic()))
        self._close_listeners()
