"""Requests on a fixed schedule over held connections, latency counted from when each was due.

Every held connection is sent a request ``rate`` times a second on a schedule fixed before the
first send. A connection has one request in flight: when its reply is late, the requests that fell
due meanwhile wait and go out as soon as it is in, and each one's latency is counted from the
moment it was due, not from when it could be sent. So a server that stalls for a second shows a
second of latency on every request it held up, as wrk2 counts, rather than one slow sample
(coordinated omission).
"""

from __future__ import annotations

import select
import selectors
import socket
import time
from collections.abc import Callable
from typing import Any, Optional

from netprobe.clients.traffic import Tally, TrafficPlan
from netprobe.clients.watch import raw_socket

READ_SIZE = 65536

Wait = Callable[[selectors.BaseSelector, float], list[tuple[selectors.SelectorKey, int]]]
Events = list[tuple[selectors.SelectorKey, int]]

# epoll waits whole milliseconds, rounded up: a loop told to wake in 40 µs for a request due then
# sleeps a millisecond when nothing arrives meanwhile, and every request due in that millisecond goes
# out late (at 60,000 a second against redis it made p99 1.3 ms where 0.5 ms was the truth).
_WHOLE_MS: tuple[type, ...] = tuple(getattr(selectors, name) for name in ("EpollSelector", "DevpollSelector")
                                    if hasattr(selectors, name))


def wait_until_due(sel: selectors.BaseSelector, wait: Wait, seconds: float) -> Events:
    """``wait(sel, seconds)`` that wakes on time to the microsecond, not to the millisecond epoll rounds up to.

    The whole milliseconds are waited as asked; the rest in select() on the selector's own
    descriptor, which is readable when one of its sockets is: the loop still wakes at once for a
    reply, and on time for a send. A selector that counts finer (select, kqueue) waits as asked.
    """
    fileno: Optional[Callable[[], int]] = getattr(sel, "fileno", None)
    if seconds <= 0 or fileno is None or not isinstance(sel, _WHOLE_MS):
        return wait(sel, max(0.0, seconds))
    whole = int(seconds * 1000) / 1000
    if whole:
        return wait(sel, whole)
    events = wait(sel, 0)
    if events:
        return events
    try:
        select.select([fileno()], [], [], seconds)
    except ValueError:  # a descriptor past select()'s FD_SETSIZE: epoll's rounding it is
        return wait(sel, seconds)
    return wait(sel, 0)


class _Conn:
    """One connection's place in the schedule."""

    __slots__ = ("sock", "due", "on_time", "owed", "received", "unsent", "done")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.due: Optional[float] = None  # when the request in flight was due; None: none in flight
        self.on_time = False  # whether the request in flight went out before the traffic's end
        self.owed: list[float] = []  # requests that fell due while one was in flight, oldest first
        self.received = b""
        self.unsent = b""
        self.done = False  # lost, answered wrongly or timed out: it carries no more traffic


def drive(socks: list[Any], request: bytes, complete: Callable[[bytes], bool], ok: Callable[[bytes], bool],
          plan: TrafficPlan, wait: Wait, tally: Tally) -> None:
    """Send ``request`` on every socket of ``socks`` on ``plan``'s schedule and count what comes back in ``tally``.

    Sockets are switched to non-blocking for the traffic and back after; one that fails is left
    to the holder's sweep, which sees the server's close as it always does.
    """
    raws = [raw_socket(s) for s in socks]
    timeouts = [r.gettimeout() for r in raws]
    sel = selectors.DefaultSelector()
    conns = [_Conn(r) for r in raws]
    try:
        for c in conns:
            c.sock.setblocking(False)
            sel.register(c.sock, selectors.EVENT_READ, c)
        _run(conns, sel, request, complete, ok, plan, wait, tally)
    finally:
        sel.close()
        for r, t in zip(raws, timeouts):
            if r.fileno() != -1:
                r.settimeout(t)
    tally.connections += len(socks)


def _run(conns: list[_Conn], sel: selectors.BaseSelector, request: bytes, complete: Callable[[bytes], bool],
         ok: Callable[[bytes], bool], plan: TrafficPlan, wait: Wait, tally: Tally) -> None:
    """The schedule's loop: send what is due, read what came, until the end and the last reply (or its timeout).

    One function of closures over locals, longer than the rule of 60 lines: it runs once per
    request, and as a class with methods it lost a tenth of its top rate (45,000 requests a
    second against redis here) and tripled its p99 just below it.
    """
    interval = 1.0 / plan.per_connection
    start = time.perf_counter()
    end = start + plan.seconds
    # Phases spread evenly over one interval, so the load is smooth rather than in bursts: the k-th
    # request of the whole run falls due at start + k * spacing, on conns[k % len(conns)].
    spacing = interval / max(1, len(conns))
    k = 0
    alive = len(conns)  # connections still carrying traffic
    last_reply = start
    in_flight = 0
    late = plan.late_send_s
    # The last whole reply that was right: the same bytes again are too, without parsing them (a
    # server answers PING the same way every time, and the checks were a tenth of the client's CPU).
    known_good = None

    def send(c: _Conn, due: float) -> None:
        nonlocal in_flight
        c.due, c.received, c.on_time = due, b"", time.perf_counter() < end
        tally.sent += 1
        in_flight += 1
        try:
            sent = c.sock.send(request)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            lose(c)
            return
        c.unsent = request[sent:]
        if c.unsent:
            sel.modify(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)

    def lose(c: _Conn) -> None:
        """The connection failed (closed, reset, a wrong reply): an error; it carries no more."""
        nonlocal in_flight, alive
        if c.done:
            return
        c.done = True
        alive -= 1
        tally.errors += 1
        in_flight -= c.due is not None
        c.due, c.owed = None, []
        sel.unregister(c.sock)

    while True:
        now = time.perf_counter()
        while alive and (due := start + k * spacing) <= now and due < end:
            c = conns[k % len(conns)]
            k += 1
            if not c.done:
                # Noticed late: this loop, not a reply still in flight, held the request up.
                tally.sent_late += now - due > late
                if c.due is None:
                    send(c, due)
                else:
                    c.owed.append(due)
        if now >= end and (not in_flight or now >= end + plan.timeout):
            break
        # Wake for the next request due, the end of the traffic, or the last reply's timeout after it.
        due = start + k * spacing
        next_due = due if alive and due < end else (end if now < end else end + plan.timeout)
        for key, mask in wait_until_due(sel, wait, next_due - now):
            c = key.data
            if c.done:
                continue
            if mask & selectors.EVENT_WRITE and c.unsent:
                try:
                    c.unsent = c.unsent[c.sock.send(c.unsent):]
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    lose(c)
                    continue
                if not c.unsent:
                    sel.modify(c.sock, selectors.EVENT_READ, c)
            if mask & selectors.EVENT_READ:
                try:
                    chunk = c.sock.recv(READ_SIZE)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    lose(c)
                    continue
                if not chunk or c.due is None:
                    lose(c)  # closed, or talking out of turn: the sweep reads what it says
                    continue
                reply = c.received + chunk
                if reply != known_good:
                    if not complete(reply):
                        c.received = reply
                        continue
                    if not ok(reply):
                        lose(c)
                        continue
                    known_good = reply
                last_reply = time.perf_counter()
                tally.answered += 1
                tally.answered_on_time += c.on_time
                tally.record(last_reply - c.due)
                c.due = None
                in_flight -= 1
                if c.owed:
                    send(c, c.owed.pop(0))
    _unanswered(conns, tally)
    tally.seconds = max(tally.seconds, plan.seconds, last_reply - start)


def _unanswered(conns: list[_Conn], tally: Tally) -> None:
    """Count the requests never answered as timeouts, each with what it had waited (a lower bound of its latency)."""
    now = time.perf_counter()
    for c in conns:
        for due in ([c.due] if c.due is not None else []) + c.owed:
            tally.timeouts += 1
            tally.record(now - due)
