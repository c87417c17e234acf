"""Single-threaded client: non-blocking connects in batches, checked as they complete."""

from __future__ import annotations

import selectors
import socket
import time
from array import array
from collections.abc import Callable
from typing import Any, Optional

from netprobe import platform
from netprobe.clients.base import IN_PROGRESS, Client, abort_all, set_nodelay
from netprobe.clients.outcome import BatchOutcome
from netprobe.clients.pingpong import selector_pingpong
from netprobe.vocabulary import Operation, Verify

# How long the loop waits for events before asking whether the server already gave up.
IDLE_TICK = 0.05
# How long an inline server (same thread) may wait for its own events while this client waits.
INLINE_TICK = 0.001
# Windows select() takes 512 sockets per list: keep each batch below that when select is all there is.
SELECT_BATCH = 500

_CONNECTING, _ECHO = 0, 1
# Where the OS has it (Linux), create sockets non-blocking in one system call instead of two.
SOCK_NONBLOCK = getattr(socket, "SOCK_NONBLOCK", 0)


def _peer_gone(out: BatchOutcome, exc: Optional[OSError] = None) -> bool:
    """Count a connection the peer closed or reset; always False (the check failed)."""
    out.peer_closed += 1
    if exc is None:
        out.fail(Operation.VERIFY, None, "the peer closed the connection")
    else:
        out.fail(Operation.VERIFY, exc)
    return False


class _Pending:
    __slots__ = ("sock", "phase", "sent_at", "received", "done")

    sock: Any

    def __init__(self, sock: socket.socket, phase: int) -> None:
        self.reset(sock, phase)

    def reset(self, sock: Optional[socket.socket], phase: int) -> None:
        # None once the batch is over: a pooled record must not keep a closed socket alive.
        self.sock = sock
        self.phase = phase
        self.sent_at = 0.0
        self.received = b""
        self.done = False


class NonblockingClient(Client):
    """One thread, non-blocking sockets on a selector, connecting in batches the accept queue can take."""

    name = "nonblocking"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sel = selectors.DefaultSelector()
        if isinstance(self._sel, selectors.SelectSelector):
            self.batch = min(self.batch, SELECT_BATCH)
        self._failed: list[socket.socket] = []  # opened but never verified: closed at the end
        self._pool: list[_Pending] = []
        self._server_step: Optional[Callable[[float], bool]] = None
        self._known_good: Optional[bytes] = None  # the last whole reply that passed its check

    def pump(self, server_step: Optional[Callable[[float], bool]]) -> None:
        self._server_step = server_step

    def _select(self, sel: selectors.BaseSelector, timeout: float) -> list[tuple[selectors.SelectorKey, int]]:
        return self._wait(sel, timeout)

    def _wait(self, sel: selectors.BaseSelector, timeout: float) -> list[tuple[selectors.SelectorKey, int]]:
        """Wait for this client's events; with an inline server, let it work in the meantime."""
        step = self._server_step
        if step is None:
            return sel.select(timeout)
        while True:
            worked = step(0)
            events = sel.select(0)
            if events or timeout <= 0:
                return events
            if not worked:
                # Nothing to do on either side yet: wait a moment on the server's own events.
                step(min(timeout, INLINE_TICK))
                timeout -= INLINE_TICK

    def open(self, count: int, timeout: float, should_abort: Callable[[], bool]) -> BatchOutcome:
        out = BatchOutcome()
        remaining = count
        while remaining > 0 and out.clean:
            n = min(remaining, self.batch)
            remaining -= n
            fresh = self._start_connects(n, out)
            self._run(fresh, timeout, should_abort, out)
        return out

    def reverify(self, conns: list[Any], timeout: float) -> BatchOutcome:
        out = BatchOutcome()
        if self.verify == Verify.CONNECT:
            for sock in conns:
                self._check_open(sock, out)
            return out
        pending = [self._pending(sock, _ECHO) for sock in conns]
        for p in pending:
            self._send(p, out)
        self._run(pending, timeout, lambda: False, out, reverify=True)
        return out

    def _pending(self, sock: socket.socket, phase: int) -> _Pending:
        """A recycled bookkeeping record, so a batch does not leave holes in the heap between sockets."""
        p = self._pool.pop() if self._pool else _Pending(sock, phase)
        p.reset(sock, phase)
        return p

    def _start_connects(self, n: int, out: BatchOutcome) -> list[_Pending]:
        """Start ``n`` connects; send each probe at once where the handshake already finished.

        Loopback handshakes usually finish inside connect(), so sending at once skips a wait for
        writability; a failed connect is left to the event loop, which reads SO_ERROR and names it.
        This loop is the ramp's own cost per connection beside the kernel's: what does not change
        per connection is looked up once, before it.
        """
        fresh: list[_Pending] = []
        early = self.verify != Verify.CONNECT
        request = self._request()
        family, kind = self.family, socket.SOCK_STREAM | SOCK_NONBLOCK
        pending, clock = self._pending, time.perf_counter
        for _ in range(n):
            dest, src = self._next_addresses()
            try:
                sock = socket.socket(family, kind)
            except OSError as exc:
                out.fail(Operation.SOCKET, exc)
                break
            if self.fd_floor is not None:
                sock = socket.socket(family, socket.SOCK_STREAM,
                                     fileno=platform.move_fd_above(sock.detach(), self.fd_floor))
                sock.setblocking(False)
            elif not SOCK_NONBLOCK:
                sock.setblocking(False)
            if src is not None:
                try:
                    self._bind_source(sock, src)
                except OSError as exc:
                    self._failed.append(sock)
                    out.fail(Operation.BIND, exc)
                    break
            err = sock.connect_ex(dest)
            if err not in IN_PROGRESS:
                self._failed.append(sock)
                out.fail(Operation.CONNECT, err)
                break
            p = pending(sock, _CONNECTING)
            if early:
                p.sent_at = clock()
                try:
                    sock.send(request)
                except OSError:
                    pass  # the handshake is still going (or failed): the event loop sends or names it
                else:
                    p.phase = _ECHO
            fresh.append(p)
        return fresh

    def _check_open(self, sock: socket.socket, out: BatchOutcome) -> bool:
        """The handshake completed; make sure the peer has not closed or reset since."""
        try:
            data = sock.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError as exc:
            return _peer_gone(out, exc)
        return bool(data) or _peer_gone(out)

    def _run(self, everyone: list[_Pending], timeout: float, should_abort: Callable[[], bool],
             out: BatchOutcome, reverify: bool = False) -> None:
        """Drive connections from their phase to verified, all at once, until done or the deadline."""
        sel = self._sel
        sent: list[_Pending] = []
        handshake_only = self.verify == Verify.CONNECT
        connect_outcome = platform.connect_outcome
        for p in everyone:
            if p.phase == _ECHO:
                sent.append(p)
            elif handshake_only and (outcome := connect_outcome(p.sock)) is not None:
                # Loopback handshakes usually finish inside connect(): check those at once,
                # without a selector registration, a wait and an unregistration each.
                if outcome:
                    self._done(p, out, None, reverify)
                else:
                    _peer_gone(out)
            else:
                sel.register(p.sock, selectors.EVENT_WRITE, p)
        # The server works on another core while the batch is sent: most answers are already
        # here, and reading them now saves registering those sockets with the selector at all.
        if self._server_step is not None:
            self._server_step(0)  # an inline server answers now, in this thread
        for p in sent:
            if self._receive(p, out, reverify) is None:
                sel.register(p.sock, selectors.EVENT_READ, p)
        left = len(sel.get_map())
        deadline = time.monotonic() + timeout
        while left:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            events = self._wait(sel, min(remaining, IDLE_TICK))
            if not events:
                if should_abort():
                    break
                continue
            for key, _ in events:
                p = key.data
                sock = p.sock
                if p.phase == _CONNECTING:
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        out.fail(Operation.CONNECT, err)
                    elif self.verify == Verify.CONNECT:
                        if self._check_open(sock, out):
                            self._done(p, out, None, reverify)
                    else:
                        p.phase = _ECHO
                        self._send(p, out)
                        sel.modify(sock, selectors.EVENT_READ, p)
                        continue
                    sel.unregister(sock)
                    left -= 1
                    continue
                if self._receive(p, out, reverify) is not None:
                    sel.unregister(sock)
                    left -= 1
        for key in list(sel.get_map().values()):
            if key.data.phase == _CONNECTING:
                out.unconnected += 1
            else:
                out.unanswered += 1
            sel.unregister(key.fileobj)
        if not reverify:
            self._failed += [p.sock for p in everyone if not p.done]
        for p in everyone:
            p.sock = None
        self._pool.extend(everyone)

    def _receive(self, p: _Pending, out: BatchOutcome, reverify: bool) -> Optional[bool]:
        """Read the echo: True when it is complete and right, False on failure, None to wait for more."""
        try:
            data = p.sock.recv(self._reply_size(p.received))
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            return _peer_gone(out, exc)
        if not data:
            return _peer_gone(out)
        reply = p.received + data
        if reply != self._known_good:  # the same bytes as the last right reply are right too
            p.received = reply
            if not self._reply_complete(reply):
                return None
            problem = self._reply_problem(reply)
            if problem is not None:
                out.fail(Operation.VERIFY, None, problem)
                return False
            self._known_good = reply
        self._done(p, out, (time.perf_counter() - p.sent_at) * 1000.0, reverify)
        return True

    def _send(self, p: _Pending, out: BatchOutcome) -> None:
        p.sent_at = time.perf_counter()
        p.received = b""
        try:
            p.sock.send(self._request())  # a few bytes always fit an empty send buffer
        except OSError as exc:
            out.fail(Operation.VERIFY, exc)

    def _done(self, p: _Pending, out: BatchOutcome, latency: Optional[float], reverify: bool) -> None:
        p.done = True
        out.verified += 1
        if latency is not None:
            out.latencies_ms.append(latency)
        if not reverify:
            self._hold(p.sock)

    def pingpong(self, payload: bytes, deadline: float, latencies: array[float]) -> tuple[int, int]:
        set_nodelay(self.verified)
        return selector_pingpong(self._sel, self.verified, payload, deadline, latencies, self._wait)

    def close(self) -> None:
        self._release_watch()
        abort_all(self.verified)
        abort_all(self._failed)
        self.verified = []
        self._failed = []
        self._sel.close()
