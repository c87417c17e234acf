"""Single-threaded client: non-blocking connects in batches, checked as they complete."""

from __future__ import annotations

import selectors
import socket
import time
from typing import Callable, Optional

from netprobe.clients.base import IN_PROGRESS, BatchOutcome, Client, abort_all

# How long the loop waits for events before asking whether the server already gave up.
IDLE_TICK = 0.05
# Windows select() takes 512 sockets per list: keep each batch below that when select is all there is.
SELECT_BATCH = 500

_CONNECTING, _ECHO = 0, 1
# Where the OS has it (Linux), create sockets non-blocking in one system call instead of two.
SOCK_NONBLOCK = getattr(socket, "SOCK_NONBLOCK", 0)


class _Pending:
    __slots__ = ("sock", "phase", "sent_at", "received")

    def __init__(self, sock: socket.socket, phase: int) -> None:
        self.sock = sock
        self.phase = phase
        self.sent_at = 0.0
        self.received = b""


class NonblockingClient(Client):
    name = "nonblocking"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._sel = selectors.DefaultSelector()
        if isinstance(self._sel, selectors.SelectSelector):
            self.batch = min(self.batch, SELECT_BATCH)
        self._unverified: set[socket.socket] = set()

    def open(self, count: int, timeout: float, should_abort: Callable[[], bool]) -> BatchOutcome:
        out = BatchOutcome()
        remaining = count
        while remaining > 0 and out.clean:
            n = min(remaining, self.batch)
            remaining -= n
            fresh = self._start_connects(n, out)
            self._run(fresh, _CONNECTING, timeout, should_abort, out)
        return out

    def reverify(self, conns: list, timeout: float) -> BatchOutcome:
        out = BatchOutcome()
        if self.verify == "connect":
            for sock in conns:
                self._check_open(sock, out)
            return out
        self._run(conns, _ECHO, timeout, lambda: False, out, reverify=True)
        return out

    def _start_connects(self, n: int, out: BatchOutcome) -> list[socket.socket]:
        fresh = []
        for _ in range(n):
            dest, src = self._next_addresses()
            try:
                sock = socket.socket(self.family, socket.SOCK_STREAM | SOCK_NONBLOCK)
            except OSError as exc:
                out.fail("socket", exc)
                break
            self._unverified.add(sock)
            if not SOCK_NONBLOCK:
                sock.setblocking(False)
            try:
                self._bind_source(sock, src)
            except OSError as exc:
                out.fail("bind", exc)
                break
            err = sock.connect_ex(dest)
            if err not in IN_PROGRESS:
                out.fail("connect", err)
                break
            fresh.append(sock)
        return fresh

    def _check_open(self, sock: socket.socket, out: BatchOutcome) -> bool:
        """The handshake completed; make sure the peer has not closed or reset since."""
        try:
            data = sock.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError as exc:
            out.peer_closed += 1
            out.fail("verify", exc)
            return False
        if data == b"":
            out.peer_closed += 1
            out.fail("verify", None, "the peer closed the connection")
            return False
        return True

    def _run(self, socks: list, phase: int, timeout: float, should_abort: Callable[[], bool],
             out: BatchOutcome, reverify: bool = False) -> None:
        """Drive ``socks`` from ``phase`` to verified, all at once, until done or the deadline."""
        sel = self._sel
        payload = self.payload
        left = 0
        for sock in socks:
            pending = _Pending(sock, phase)
            if phase == _ECHO or (phase == _CONNECTING and self.verify == "echo" and self._send_early(pending)):
                if phase == _ECHO:
                    self._send(pending, out)
                pending.phase = _ECHO
                sel.register(sock, selectors.EVENT_READ, pending)
            else:
                sel.register(sock, selectors.EVENT_WRITE, pending)
            left += 1
        deadline = time.monotonic() + timeout
        while left:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            events = sel.select(min(remaining, IDLE_TICK))
            if not events:
                if should_abort():
                    break
                continue
            for key, _ in events:
                p: _Pending = key.data
                sock = p.sock
                if p.phase == _CONNECTING:
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        out.fail("connect", err)
                        sel.unregister(sock)
                        left -= 1
                        continue
                    if self.verify == "connect":
                        sel.unregister(sock)
                        left -= 1
                        if self._check_open(sock, out):
                            self._done(sock, out, None, reverify)
                        continue
                    p.phase = _ECHO
                    self._send(p, out)
                    sel.modify(sock, selectors.EVENT_READ, p)
                    continue
                try:
                    data = sock.recv(len(payload) - len(p.received))
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:
                    data = b""
                    out.fail("verify", exc)
                if not data:
                    out.peer_closed += 1
                    out.fail("verify", None, "the peer closed the connection")
                    sel.unregister(sock)
                    left -= 1
                    continue
                p.received += data
                if len(p.received) < len(payload):
                    continue
                sel.unregister(sock)
                left -= 1
                if p.received != payload:
                    out.fail("verify", None, "the echo came back different")
                    continue
                self._done(sock, out, (time.perf_counter() - p.sent_at) * 1000.0, reverify)
        for key in list(sel.get_map().values()):
            if key.data.phase == _CONNECTING:
                out.unconnected += 1
            else:
                out.unanswered += 1
            sel.unregister(key.fileobj)

    def _send_early(self, p: _Pending) -> bool:
        """Send the probe before connect() is known to be done; False if the handshake is still going.

        Loopback handshakes usually finish inside connect(), so this skips a wait for writability.
        A failed connect is left to the event loop, which reads SO_ERROR and names it.
        """
        p.sent_at = time.perf_counter()
        try:
            p.sock.send(self.payload)
        except OSError:
            return False
        return True

    def _send(self, p: _Pending, out: BatchOutcome) -> None:
        p.sent_at = time.perf_counter()
        p.received = b""
        try:
            p.sock.send(self.payload)  # a few bytes always fit an empty send buffer
        except OSError as exc:
            out.fail("verify", exc)

    def _done(self, sock: socket.socket, out: BatchOutcome, latency: Optional[float], reverify: bool) -> None:
        out.verified += 1
        if latency is not None:
            out.latencies_ms.append(latency)
        if not reverify:
            self._unverified.discard(sock)
            self.verified.append(sock)

    def close(self) -> None:
        abort_all(self.verified)
        abort_all(self._unverified)
        self.verified = []
        self._unverified = set()
        self._sel.close()
