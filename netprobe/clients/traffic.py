"""Traffic over held connections: requests on a fixed schedule, latency measured from when each was due.

With ``ramp --rate R`` every held connection is sent a request R times a second (the echo of the
payload, or the probe's request), on a schedule fixed before the first send. A connection has one
request in flight: when its reply is late, the requests that fell due meanwhile wait and go out as
soon as it is in, and each one's latency is counted from the moment it was due, not from when it
could be sent. So a server that stalls for a second shows a second of latency on every request
it held up, as wrk2 counts, rather than one slow sample (coordinated omission).

Latencies go into an HDR histogram (the ``hdrhistogram`` package, imported only here): constant
memory at any rate, three significant digits, and an encoding that a client process or a worker
sends with its report so the engine can add theirs up exactly.
"""

from __future__ import annotations

import heapq
import selectors
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Optional

from netprobe.clients.watch import raw_socket
from netprobe.records import Record

if TYPE_CHECKING:
    from hdrh.histogram import HdrHistogram

# The histogram's range, in microseconds: 1 µs to one hour, to three significant digits.
LOWEST_US, HIGHEST_US, DIGITS = 1, 3_600_000_000, 3
READ_SIZE = 65536
# An encoded histogram of this range is a few KiB at most; a longer one is not netprobe's.
MAX_ENCODED = 1 << 20

Wait = Callable[[selectors.BaseSelector, float], list[tuple[selectors.SelectorKey, int]]]


# The p99 latency past which a step is the knee, unless --max-latency says otherwise: a tenth of a
# second is where people notice an interactive reply is late.
DEFAULT_MAX_LATENCY_MS = 100.0
# The share of the asked rate a step may fall short by before it is the knee.
RATE_SHORTFALL = 0.05


@dataclass(frozen=True)
class TrafficPlan(Record):
    """A ramp's traffic: requests a second per held connection (or over all of them), how long, how late is late."""

    rate: Optional[float]  # requests per second on each held connection (--rate) ...
    total_rate: Optional[float]  # ... or over every held connection together (--total-rate)
    seconds: float  # how long each step's traffic lasts
    timeout: float  # a request unanswered this long after the traffic ends counts as a timeout
    max_latency_ms: float = DEFAULT_MAX_LATENCY_MS  # the p99 past which a step is the knee

    def at(self, held: int) -> TrafficPlan:
        """This plan for a step holding ``held`` connections: its rate per connection, fixed."""
        if self.rate is not None:
            return self
        assert self.total_rate is not None
        return replace(self, rate=self.total_rate / max(1, held), total_rate=None)

    @property
    def per_connection(self) -> float:
        """Requests a second on each connection (a plan fixed by ``at``)."""
        assert self.rate is not None, "a --total-rate plan is fixed for a step by at(held) first"
        return self.rate


@dataclass(frozen=True)
class TrafficStats(Record):
    """One step's traffic over its held connections: what was asked, what came back, and how fast."""

    connections: int  # connections that carried it
    asked_rate: float  # requests per second asked, over every connection
    achieved_rate: float  # replies per second: the requests due in the traffic's time that were answered
    sent: int
    answered: int
    errors: int  # connections closed, reset or answered wrongly meanwhile
    timeouts: int  # requests still unanswered after --timeout
    # Latency from when each request was due to its whole reply; a request never answered counts
    # with what it had waited at the end (so these are lower bounds when ``timeouts`` is not 0).
    p50_ms: Optional[float]
    p99_ms: Optional[float]
    p999_ms: Optional[float]
    max_ms: Optional[float]
    seconds: float
    client_cpu: Optional[float] = None  # percent of one core over the traffic, every client process
    server_cpu: Optional[float] = None  # percent of one core over the traffic, the server's processes
    # The kernel's machine-wide counters over the traffic (Linux): accept-queue overflows, handshakes sent again.
    listen_overflows: Optional[int] = None
    syn_retransmits: Optional[int] = None


def new_histogram() -> HdrHistogram:
    """An empty latency histogram in microseconds."""
    from hdrh.histogram import HdrHistogram

    return HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)


def decode_histogram(encoded: str) -> HdrHistogram:
    """A histogram another process sent (``Tally.encoded``), checked: ValueError when it is not one of ours."""
    import zlib

    from hdrh.codec import HdrCookieException, HdrHistogramSettingsException, HdrLengthException
    from hdrh.histogram import HdrHistogram

    if len(encoded) > MAX_ENCODED:
        raise ValueError(f"an encoded histogram of {len(encoded):,} characters (at most {MAX_ENCODED:,})")
    try:
        histogram = HdrHistogram.decode(encoded.encode("ascii"))
    except (ValueError, RuntimeError, zlib.error, HdrCookieException, HdrHistogramSettingsException,
            HdrLengthException) as exc:
        raise ValueError(f"not an encoded HDR histogram ({exc})") from None
    if (histogram.lowest_trackable_value, histogram.highest_trackable_value,
            histogram.significant_figures) != (LOWEST_US, HIGHEST_US, DIGITS):
        raise ValueError("an HDR histogram of another range or precision than netprobe's")
    return histogram


class Tally:
    """What traffic achieved so far: counts and the latency histogram; sums over processes exactly."""

    def __init__(self) -> None:
        self.connections = self.sent = self.answered = self.errors = self.timeouts = 0
        self.seconds = 0.0
        self.histogram = new_histogram()

    def record(self, latency_s: float) -> None:
        """Count one request's latency, in seconds."""
        self.histogram.record_value(min(HIGHEST_US, max(LOWEST_US, int(latency_s * 1e6))))

    @property
    def encoded(self) -> str:
        """The histogram as text for a report that crosses a pipe."""
        return self.histogram.encode().decode("ascii") if self.histogram.get_total_count() else ""

    def add(self, connections: int, sent: int, answered: int, errors: int, timeouts: int, seconds: float,
            encoded: str) -> None:
        """Add another holder's traffic: its counts, and its histogram as it encoded it."""
        self.connections += connections
        self.sent += sent
        self.answered += answered
        self.errors += errors
        self.timeouts += timeouts
        self.seconds = max(self.seconds, seconds)
        if encoded:
            self.histogram.add(decode_histogram(encoded))

    def stats(self, plan: TrafficPlan, client_cpu: Optional[float] = None, server_cpu: Optional[float] = None,
              listen_overflows: Optional[int] = None, syn_retransmits: Optional[int] = None) -> TrafficStats:
        """The step's figures: rates over the traffic's length, percentiles in milliseconds."""
        h = self.histogram
        counted = h.get_total_count() > 0

        def ms(value: int) -> Optional[float]:
            return round(value / 1000.0, 3) if counted else None

        return TrafficStats(
            connections=self.connections, asked_rate=round(self.connections * plan.per_connection, 1),
            achieved_rate=round(self.answered / plan.seconds, 1),
            sent=self.sent, answered=self.answered, errors=self.errors, timeouts=self.timeouts,
            p50_ms=ms(h.get_value_at_percentile(50.0)), p99_ms=ms(h.get_value_at_percentile(99.0)),
            p999_ms=ms(h.get_value_at_percentile(99.9)), max_ms=ms(h.get_max_value()),
            seconds=round(self.seconds, 3), client_cpu=client_cpu, server_cpu=server_cpu,
            listen_overflows=listen_overflows, syn_retransmits=syn_retransmits)


class _Conn:
    """One connection's place in the schedule."""

    __slots__ = ("sock", "due", "owed", "received", "unsent", "done")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.due: Optional[float] = None  # when the request in flight was due; None: none in flight
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
    """The schedule's loop: send what is due, read what came, until the end and the last reply (or its timeout)."""
    interval = 1.0 / plan.per_connection
    start = time.perf_counter()
    end = start + plan.seconds
    # Phases spread evenly over one interval, so the load is smooth rather than in bursts.
    schedule = [(start + interval * i / max(1, len(conns)), i) for i in range(len(conns))]
    last_reply = start
    in_flight = 0

    def send(c: _Conn, due: float) -> None:
        nonlocal in_flight
        c.due, c.received = due, b""
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
        nonlocal in_flight
        if c.done:
            return
        c.done = True
        tally.errors += 1
        in_flight -= c.due is not None
        c.due, c.owed = None, []
        sel.unregister(c.sock)

    while True:
        now = time.perf_counter()
        while schedule and schedule[0][0] <= now and schedule[0][0] < end:
            due, i = heapq.heappop(schedule)
            c = conns[i]
            if not c.done:
                if c.due is None:
                    send(c, due)
                else:
                    c.owed.append(due)
                heapq.heappush(schedule, (due + interval, i))
        if now >= end and (not in_flight or now >= end + plan.timeout):
            break
        # Wake for the next request due, the end of the traffic, or the last reply's timeout after it.
        next_due = schedule[0][0] if schedule and schedule[0][0] < end else (end if now < end else end + plan.timeout)
        for key, mask in wait(sel, max(0.0, next_due - now)):
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
                c.received += chunk
                if not complete(c.received):
                    continue
                if not ok(c.received):
                    lose(c)
                    continue
                last_reply = time.perf_counter()
                tally.answered += 1
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
