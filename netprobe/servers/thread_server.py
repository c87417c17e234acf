"""The threads backend: one OS thread per connection, blocking calls, as in the tutorial's clients.

Simple to write and to reason about; each connection costs a thread (its stack, and a kernel
task), which ``bench echo`` shows beside the event loops.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Optional

from netprobe.protocols import Protocol
from netprobe.protocols.files import ProtocolError
from netprobe.servers.base import MAX_PENDING, RECV_SIZE, ServerBase
from netprobe.servers.registry import ServerOptions
from netprobe.sockets import abort
from netprobe.vocabulary import StopReason

# How often blocked calls wake to notice stop().
TICK = 0.2
JOIN_TIMEOUT = 10.0


class ThreadPerConnectionServer(ServerBase):
    name = "threads"

    def __init__(self, protocol: Optional[Protocol] = None, host: str = "127.0.0.1", port: int = 0,
                 ports: int = 1, backlog: int = socket.SOMAXCONN, *,
                 options: Optional[ServerOptions] = None) -> None:
        super().__init__(protocol, host, port, ports, backlog, options=options)
        self._lock = threading.Lock()
        self._conns: dict[socket.socket, threading.Thread] = {}
        for lsock in self.listeners:
            lsock.settimeout(TICK)

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
                pause = self._accept_failed(exc)
                if pause is None and self._running:
                    self.errors += 1
                time.sleep(pause or TICK)  # out of fds: wait for some to be freed, never spin
                continue
            with self._lock:
                self._accepted()
                thread = threading.Thread(target=self._handle, args=(sock,), daemon=True)
                self._conns[sock] = thread
            try:
                thread.start()
            except RuntimeError as exc:  # can't start new thread: a resource limit, reported
                self._record_limit(StopReason.THREAD_LIMIT, None, f"cannot start a thread: {exc}")
                self._forget(sock)

    def _handle(self, sock: socket.socket) -> None:
        session = None if self.protocol.stateless else self.protocol.session()
        sock.settimeout(TICK)
        try:
            while self._running:
                try:
                    data = sock.recv(RECV_SIZE)
                except TimeoutError:
                    continue
                if not data:
                    break
                with self._lock:
                    self.bytes_in += len(data)
                if session is None:
                    self._send(sock, self.protocol.reply(data))
                    continue
                try:
                    session.received(data)
                except ProtocolError as exc:
                    with self._lock:
                        self.errors += 1
                    session.fail(str(exc))
                while session.has_output and self._running:
                    self._send(sock, session.pull(MAX_PENDING))
                if session.closing:
                    break
        except OSError:
            with self._lock:
                self.errors += 1
        finally:
            if session is not None:
                session.close()
            self._forget(sock)

    def _send(self, sock: socket.socket, data: bytes) -> None:
        view = memoryview(data)
        while view and self._running:
            try:
                sent = sock.send(view)
            except TimeoutError:
                continue  # back-pressure: a peer that does not read holds only its own thread
            view = view[sent:]
            with self._lock:
                self.bytes_out += sent

    def _forget(self, sock: socket.socket) -> None:
        with self._lock:
            if self._conns.pop(sock, None) is not None:
                self.held -= 1
        abort(sock)

    def close(self) -> None:
        self._running = False
        with self._lock:
            threads = list(self._conns.values())
        deadline = time.monotonic() + JOIN_TIMEOUT
        for thread in threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
        self._close_listeners()
