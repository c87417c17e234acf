"""The select backend: the tutorial's raw ``select.select`` loop, made safe.

It keeps the tutorial's shape, an input list (listeners and connections), an output list
(connections with replies waiting) and a queue per connection, and adds what the tutorial
left out: bounded queues (a peer that never reads stops being read), no spinning on EMFILE,
and select()'s own cap recorded as a limit instead of a crash.
"""

from __future__ import annotations

import select
import socket
from collections import deque
from typing import Optional

from netprobe.errors import ProtocolError
from netprobe.protocols import Protocol
from netprobe.protocols.files import FileSession
from netprobe.servers.base import MAX_PENDING, RECV_SIZE, ServerBase, count_failure
from netprobe.servers.registry import ServerOptions
from netprobe.sockets import abort


class _Conn:
    __slots__ = ("eof", "queue", "queued", "session", "sock")

    def __init__(self, sock: socket.socket, session: Optional[FileSession]) -> None:
        self.sock = sock
        self.queue: deque[bytes] = deque()  # the tutorial's per-connection message queue
        self.queued = 0
        self.session = session
        self.eof = False  # the client is done sending: answer what it asked, then close

    @property
    def has_output(self) -> bool:
        return bool(self.queue) or (self.session is not None and self.session.has_output)


class SelectLoopServer(ServerBase):
    """The tutorial's select.select() loop with input and output lists, hardened."""

    name = "select"
    steppable = True
    waits_with = "SelectSelector"

    def __init__(self, protocol: Optional[Protocol] = None, host: str = "127.0.0.1", port: int = 0,
                 ports: int = 1, backlog: int = socket.SOMAXCONN, *,
                 options: Optional[ServerOptions] = None) -> None:
        super().__init__(protocol, host, port, ports, backlog, options=options)
        for lsock in self.listeners:
            lsock.setblocking(False)
        self.conns: dict[socket.socket, _Conn] = {}

    def serve(self, poll_interval: float = 0.05) -> None:
        while self._running:
            self.step(poll_interval)

    def step(self, timeout: float) -> bool:
        """One select() call and what it found; return whether it found anything."""
        self._resume_accepting_if_due()
        inputs = (self.listeners if self._accepting else []) + [
            c.sock for c in self.conns.values()
            if not c.eof and c.queued < MAX_PENDING and (c.session is None or c.session.wants_input)]
        outputs = [c.sock for c in self.conns.values() if c.has_output]
        try:
            readable, writable, failed = select.select(inputs, outputs, inputs, timeout)
        except ValueError as exc:
            self._shed_newest(exc)
            return True
        for s in readable:
            if s in self.listeners:
                self._accept(s)
            elif s in self.conns:
                self._read(self.conns[s])
        for s in writable:
            if s in self.conns:
                self._write(self.conns[s])
        for s in failed:
            if s in self.conns:
                self.errors += 1
                self._drop(self.conns[s])
        return bool(readable or writable or failed)

    def _shed_newest(self, exc: ValueError) -> None:
        """select() refused the set: shed the newest until it takes it again (``ServerBase``)."""
        self._shed_newest_at_select_cap(
            list(self.conns), lambda sock: self._drop(self.conns[sock]),
            lambda: select.select([c.sock for c in self.conns.values()] or [self.listeners[0]], [], [], 0), exc)

    def _accept(self, lsock: socket.socket) -> None:
        try:
            sock, _ = lsock.accept()
        except BlockingIOError:
            return
        except OSError as exc:
            pause = self._accept_failed(exc)
            if pause is None:
                raise
            if pause:
                self._pause_accepting(pause)
            return  # paused at a limit, or the peer gave up before we accepted
        self._accepted()
        sock.setblocking(False)
        session = None if self.protocol.stateless else self.protocol.session()
        self.conns[sock] = _Conn(sock, session)

    def _read(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            count_failure(self, exc)
            self._drop(conn)
            return
        if not data:
            # The tutorial's "client disconnected": it may only have half-closed, so answer first.
            conn.eof = True
            if not conn.has_output:
                self._drop(conn, graceful=True)
            return
        self.bytes_in += len(data)
        if conn.session is None:
            reply = self.protocol.reply(data)
            conn.queue.append(reply)
            conn.queued += len(reply)
            return
        try:
            conn.session.received(data)
        except ProtocolError as exc:
            self.errors += 1
            conn.session.fail(str(exc))

    def _write(self, conn: _Conn) -> None:
        if conn.session is not None and conn.queued < MAX_PENDING:
            chunk = conn.session.pull(MAX_PENDING - conn.queued)
            if chunk:
                conn.queue.append(chunk)
                conn.queued += len(chunk)
        if not conn.queue:
            if not conn.has_output and (conn.eof or (conn.session is not None and conn.session.closing)):
                self._drop(conn, graceful=True)
            return
        head = conn.queue[0]
        try:
            sent = conn.sock.send(head)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            count_failure(self, exc)
            self._drop(conn)
            return
        self.bytes_out += sent
        conn.queued -= sent
        if sent == len(head):
            conn.queue.popleft()
        else:
            conn.queue[0] = head[sent:]
        if not conn.has_output and (conn.eof or (conn.session is not None and conn.session.closing)):
            self._drop(conn, graceful=True)

    def _drop(self, conn: _Conn, graceful: bool = False) -> None:
        """Forget a connection; ``graceful`` closes with FIN after what is sent, else with RST."""
        if self.conns.pop(conn.sock, None) is None:
            return
        if conn.session is not None:
            self.errors += conn.session.errors
            conn.session.close()
        if graceful:
            conn.sock.close()
        else:
            abort(conn.sock)
        self.held -= 1  # only now: the control thread may report held at any moment
        self._connection_gone()

    def close(self) -> None:
        self._capped = False
        for conn in list(self.conns.values()):
            self._drop(conn)
        self._close_listeners()
