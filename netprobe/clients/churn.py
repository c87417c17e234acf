"""Connection churn on a fixed schedule: a new connection for every request, closed by the client after its reply.

With ``ramp --churn R`` a holder opens R connections a second, each sends one request, reads its
reply and closes (first, so TIME_WAIT stays on this side as it does for a client without
keep-alive, unless the server's FIN came before: that is counted, as the server closing first).
The schedule is fixed before the first open: an open that could not start on time (too many
still open) starts as soon as one ends, and its latency counts from when it was due, so a server
that accepts slowly shows as latency rather than as a lower rate that looks healthy
(coordinated omission, as in ``netprobe.clients.scheduled``). An open the OS refuses at once
(``EADDRNOTAVAIL``: no local port free) is counted by its errno name: that is the evidence the
engine names ``port_exhaustion`` with.
"""

from __future__ import annotations

import selectors
import socket
import time
from collections import deque
from collections.abc import Callable
from typing import Optional

from netprobe import platform
from netprobe.clients.base import IN_PROGRESS
from netprobe.clients.scheduled import READ_SIZE, Wait, wait_until_due
from netprobe.clients.traffic import Tally, TrafficPlan

#: A new socket for the next connection: bound to its source address where the holder has several.
NewSocket = Callable[[], tuple[socket.socket, tuple[str, int]]]


class _Open:
    """One churned connection: when it was due, and what its reply has brought so far."""

    __slots__ = ("sock", "due", "on_time", "received", "unsent", "connected")

    def __init__(self, sock: socket.socket, due: float, on_time: bool) -> None:
        self.sock, self.due, self.on_time = sock, due, on_time
        self.received = b""
        self.unsent = b""
        self.connected = False


def churn(new_socket: NewSocket, request: bytes, complete: Callable[[bytes], bool], ok: Callable[[bytes], bool],
          plan: TrafficPlan, wait: Wait, tally: Tally, most_open: int) -> None:
    """Open ``plan.rate`` connections a second for ``plan.seconds``, one request each, and count them in ``tally``.

    At most ``most_open`` are open at once (the holder's fds); every socket is closed before this returns.
    """
    interval = 1.0 / plan.per_connection
    late = plan.late_send_s
    start = time.perf_counter()
    end = start + plan.seconds
    opens = 0  # opens due so far: the next is due at start + opens * interval (no drift from adding)
    owed: deque[float] = deque()  # opens that fell due while ``most_open`` were open, oldest first
    sel = selectors.DefaultSelector()
    # A socket that never becomes readable keeps the selector's set non-empty: Windows' select()
    # refuses empty sets, and a wait with nothing open must still serve an inline server.
    quiet, other_end = socket.socketpair()
    sel.register(quiet, selectors.EVENT_READ, None)
    opened: dict[int, _Open] = {}  # by fd, in the order they were due
    last_reply = start

    def finish(c: _Open, answered: bool, refused: Optional[str], server_first: bool = False) -> None:
        """Close ``c`` (a FIN, so TIME_WAIT stays here unless the server's came first) and count how it ended."""
        nonlocal last_reply
        sel.unregister(c.sock)
        del opened[c.sock.fileno()]
        c.sock.close()
        if answered:
            last_reply = time.perf_counter()
            tally.answered += 1
            tally.answered_on_time += c.on_time
            tally.server_closed_first += server_first
            tally.record(last_reply - c.due)
        else:
            tally.errors += 1
            if refused is not None:
                tally.connect_errors[refused] += 1

    def begin(due: float, now: float) -> None:
        tally.sent += 1
        try:
            sock, dest = new_socket()
        except OSError as exc:  # no fd, or no port for the source address
            _refused(tally, exc.errno)
            return
        sock.setblocking(False)
        code = sock.connect_ex(dest)
        if code not in IN_PROGRESS:
            sock.close()
            _refused(tally, code)
            return
        c = _Open(sock, due, now < end)
        c.unsent = request
        opened[sock.fileno()] = c
        sel.register(sock, selectors.EVENT_WRITE, c)

    try:
        while True:
            now = time.perf_counter()
            while (next_due := start + opens * interval) <= now and next_due < end:
                tally.sent_late += now - next_due > late  # this loop noticed it late
                owed.append(next_due)
                opens += 1
            while owed and len(opened) < most_open:
                begin(owed.popleft(), now)
            while opened and now - (oldest := next(iter(opened.values()))).due > plan.timeout:
                tally.timeouts += 1
                tally.record(now - oldest.due)
                sel.unregister(oldest.sock)
                del opened[oldest.sock.fileno()]
                oldest.sock.close()
            if now >= end and ((not opened and not owed) or now >= end + plan.timeout):
                break
            next_due = start + opens * interval
            wake = (next_due if next_due < end else end if now < end else end + plan.timeout) - now
            for key, mask in wait_until_due(sel, wait, min(wake, 0.01) if owed else wake):
                if key.data is not None:
                    _step(key.data, mask, complete, ok, sel, finish)
    finally:
        now = time.perf_counter()
        for c in opened.values():
            tally.timeouts += 1
            tally.record(now - c.due)
            c.sock.close()
        for due in owed:
            tally.timeouts += 1
            tally.record(now - due)
        sel.close()
        quiet.close()
        other_end.close()
    tally.seconds = max(tally.seconds, plan.seconds, last_reply - start)


def _step(c: _Open, mask: int, complete: Callable[[bytes], bool], ok: Callable[[bytes], bool],
          sel: selectors.BaseSelector, finish: Callable[[_Open, bool, Optional[str], bool], None]) -> None:
    """Move ``c`` on by what its socket is ready for: connected, request sent, reply read."""
    if not c.connected:
        code = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            finish(c, False, platform.errno_name(code), False)
            return
        c.connected = True
        if not c.unsent:  # nothing to ask (a connect-only check): connected is answered
            finish(c, True, None, False)
            return
    try:
        if c.unsent:
            if mask & selectors.EVENT_WRITE:
                c.unsent = c.unsent[c.sock.send(c.unsent):]
                if not c.unsent:
                    sel.modify(c.sock, selectors.EVENT_READ, c)
            return
        chunk = c.sock.recv(READ_SIZE)
    except (BlockingIOError, InterruptedError):
        return
    except OSError:
        finish(c, False, None, False)  # reset after connecting: an error, not a refused open
        return
    if not chunk:
        finish(c, False, None, False)  # closed before a whole reply
        return
    c.received += chunk
    if complete(c.received):
        finish(c, ok(c.received), None, _server_closed(c.sock))


def _server_closed(sock: socket.socket) -> bool:
    """Whether the server's FIN is already here: it closed first, so TIME_WAIT is on its side, not this port's."""
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:  # nothing more yet (or a reset, which leaves no TIME_WAIT on either side)
        return False


def _refused(tally: Tally, code: Optional[int]) -> None:
    """Count an open the OS refused at once, by its errno's name."""
    tally.errors += 1
    tally.connect_errors[platform.errno_name(code) or "unknown"] += 1
