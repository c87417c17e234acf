"""Traffic over held connections, as data: the plan, what each step gave, and the latency histogram.

With ``ramp --rate R`` every held connection is sent a request R times a second
(``netprobe.clients.scheduled`` sends them). Latencies go into an HDR histogram (the
``hdrhistogram`` package, imported only when traffic runs): constant memory at any rate, three
significant digits, and an encoding that a client process or a worker sends with its report
(``TrafficCount``) so the engine adds theirs up exactly.
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Optional

from netprobe.records import Record

if TYPE_CHECKING:
    from hdrh.histogram import HdrHistogram

# The histogram's range, in microseconds: 1 µs to one hour, to three significant digits.
LOWEST_US, HIGHEST_US, DIGITS = 1, 3_600_000_000, 3
# An encoded histogram of this range is a few KiB at most; a longer one is not netprobe's.
MAX_ENCODED = 1 << 20


# The p99 latency past which a step is the knee, unless --max-latency says otherwise: a tenth of a
# second is where people notice an interactive reply is late.
DEFAULT_MAX_LATENCY_MS = 100.0
# The share of the asked rate a step may fall short by before it is the knee.
RATE_SHORTFALL = 0.05
# A holder's report names at most this many distinct errnos (an OS has about a hundred and fifty).
MAX_ERRNO_NAMES = 64


@dataclass(frozen=True)
class TrafficPlan(Record):
    """A ramp's traffic: requests a second per held connection (or over all of them), how long, how late is late."""

    rate: Optional[float]  # requests per second on each held connection (--rate) ...
    total_rate: Optional[float]  # ... or over every held connection together (--total-rate)
    seconds: float  # how long each step's traffic lasts
    timeout: float  # a request unanswered this long after the traffic ends counts as a timeout
    max_latency_ms: float = DEFAULT_MAX_LATENCY_MS  # the p99 past which a step is the knee
    request: Optional[str] = None  # hex:BYTES sent instead of the check's request (--request); any reply counts
    # Churn (--churn): each request goes on a connection of its own, opened when it is due and closed
    # by the client after the reply; ``rate`` is then new connections a second, the step's goal.
    churn: bool = False

    @property
    def late_send_s(self) -> float:
        """How late after it fell due a request leaves the client before the client counts itself behind."""
        return self.max_latency_ms / 2000.0

    def at(self, held: int) -> TrafficPlan:
        """This plan for a step holding ``held`` connections: its rate per connection, fixed."""
        if self.rate is not None:
            return self
        assert self.total_rate is not None
        return replace(self, rate=self.total_rate / max(1, held), total_rate=None)

    def for_step(self, goal: int, held: int) -> TrafficPlan:
        """This plan for a step whose goal is ``goal``: churn at ``goal`` connections a second, else ``at(held)``."""
        return replace(self, rate=float(goal), total_rate=None) if self.churn else self.at(held)

    def share(self, holders: int) -> TrafficPlan:
        """Each of ``holders``' part: churn's rate is split between them; traffic is per connection already."""
        if not self.churn or holders <= 1:
            return self
        return replace(self, rate=self.per_connection / holders)

    def asked(self, connections: int) -> float:
        """Requests a second asked over ``connections`` carrying it (churn: new connections a second)."""
        return self.per_connection if self.churn else connections * self.per_connection

    @property
    def per_connection(self) -> float:
        """Requests a second on each connection (a plan fixed by ``at``); churn's new connections a second."""
        assert self.rate is not None, "a --total-rate plan is fixed for a step by at(held) first"
        return self.rate


@dataclass(frozen=True)
class TrafficStats(Record):
    """One step's traffic over its held connections: what was asked, what came back, and how fast."""

    connections: int  # connections that carried it
    asked_rate: float  # requests per second asked, over every connection
    # Replies a second to the requests sent on time: one that fell due behind a late reply and went
    # out after the traffic's end (a client or server that could not keep up) does not count.
    achieved_rate: float
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
    # Percent of one core each side ran or waited in the run queue to run (Linux schedstat): at 100 per
    # process a side is CPU-bound even on a machine too busy to give it a whole core.
    client_busy: Optional[float] = None
    server_busy: Optional[float] = None
    # The same for the server's busiest process alone: one saturated worker beside an idle master
    # (nginx) is a CPU-bound server, which the sum over its processes hides.
    server_busiest: Optional[float] = None
    # Percent of the traffic's time in which some task on this machine waited for a CPU (Linux's
    # pressure stall information): a machine busy with other work, whichever side it delayed.
    cpu_pressure: Optional[float] = None
    # The kernel's machine-wide counters over the traffic (Linux): accept-queue overflows, handshakes sent again.
    listen_overflows: Optional[int] = None
    syn_retransmits: Optional[int] = None
    churn: bool = False  # each request on a connection of its own (asked_rate is new connections a second)
    # Churn: connections that could not be opened, by the errno that refused them (EADDRNOTAVAIL: no
    # local port was free), and this side's connections to the target in TIME_WAIT after the step.
    connect_errors: dict[str, int] = field(default_factory=dict)
    time_wait: Optional[int] = None
    # Churn (Linux): closes over the step that skipped TIME_WAIT because net.ipv4.tcp_max_tw_buckets were
    # all taken (the kernel's TCPTimeWaitOverflow, machine-wide).
    time_wait_overflows: Optional[int] = None
    # Churn: answered connections whose server had closed before the client did (its FIN was there
    # first), so their TIME_WAIT is on the server's side; and a local server's connections in TIME_WAIT.
    server_closed_first: Optional[int] = None
    server_time_wait: Optional[int] = None

    @property
    def most_refused(self) -> Optional[tuple[str, int]]:
        """Churn's errno that refused the most opens, and how many; None when none was refused."""
        return max(self.connect_errors.items(), key=lambda item: item[1]) if self.connect_errors else None

    # Segments this run's held connections sent again during the traffic (Linux's TCP information on
    # each; a connection that closed meanwhile takes its count with it, so this is a lower bound).
    retransmits: Optional[int] = None
    # Requests (under churn, opens) the client's own loop noticed more than half of --max-latency after
    # they fell due: the client fell behind its schedule, whatever the server did.
    sent_late: Optional[int] = None


@dataclass(frozen=True)
class TrafficCount(Record):
    """What a holder elsewhere (a client process, a worker) counted of its traffic, histogram included."""

    connections: int
    sent: int
    answered: int
    errors: int
    timeouts: int
    seconds: float
    histogram: str  # the latency histogram, encoded (``Tally.encoded``); "" when nothing was measured
    cpu: Optional[float] = None  # percent of one core the holder's process used over the traffic, where read
    answered_on_time: int = 0  # of ``answered``, those sent within the traffic's time
    connect_errors: dict[str, int] = field(default_factory=dict)  # churn's refused opens, by errno name
    sent_late: int = 0  # of ``sent``, those the holder's loop noticed late (``TrafficPlan.late_send_s``)
    server_closed_first: int = 0  # churn: of ``answered``, those the server closed before the holder did

    def problem(self, held: int) -> Optional[str]:
        """Why no holder of ``held`` connections could have counted this; None when it could."""
        counts = (self.connections, self.sent, self.answered, self.errors, self.timeouts)
        if min(counts) < 0 or not 0 <= self.seconds <= 7 * 24 * 3600 or (self.cpu is not None and self.cpu < 0):
            return "its traffic counts are negative or its time out of range"
        refused = self.connect_errors.values()
        if (len(self.connect_errors) > MAX_ERRNO_NAMES or any(n < 0 for n in refused) or sum(refused) > self.errors
                or any(not 0 < len(name) <= 32 for name in self.connect_errors)):
            return "its connect errors are not a few errno names, each counted among its errors"
        if not 0 <= self.sent_late <= self.sent:
            return f"it says {self.sent_late:,} of {self.sent:,} requests went out late"
        if not 0 <= self.server_closed_first <= self.answered:
            return f"it says the server closed {self.server_closed_first:,} of {self.answered:,} answered first"
        if self.connections > held or self.answered > self.sent or not 0 <= self.answered_on_time <= self.answered:
            return f"it says {self.connections:,} connections carried traffic and {self.answered:,} of " \
                   f"{self.sent:,} requests were answered, holding {held:,}"
        try:
            _ = self.decoded
        except ValueError as exc:
            return f"its latency histogram: {exc}"
        return None

    @cached_property
    def decoded(self) -> Optional[HdrHistogram]:
        """The latency histogram, decoded once for the check and the sum (ValueError when it is not one of ours)."""
        return decode_histogram(self.histogram) if self.histogram else None


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
        self.connections = self.sent = self.answered = self.answered_on_time = self.errors = self.timeouts = 0
        self.seconds = 0.0
        self._histogram = new_histogram()
        # Latencies in µs not yet in the histogram: hdrh records in Python (about 15 µs a value), so
        # the traffic appends here and equal values go in at once, off the hot path.
        self._unrecorded = array("q")
        self.cpu: Optional[float] = None  # the holders' processes elsewhere, summed, where each said
        self._cpu_unknown = False
        self.connect_errors: Counter[str] = Counter()  # churn's refused opens, by errno name
        self.sent_late = 0  # requests the loop noticed late: the client behind its schedule
        self.server_closed_first = 0  # churn: answered connections the server closed before the client

    def record(self, latency_s: float) -> None:
        """Count one request's latency, in seconds."""
        self._unrecorded.append(min(HIGHEST_US, max(LOWEST_US, int(latency_s * 1e6))))

    @property
    def histogram(self) -> HdrHistogram:
        """Every latency counted so far."""
        if self._unrecorded:
            for value, times in Counter(self._unrecorded).items():
                self._histogram.record_value(value, times)
            self._unrecorded = array("q")
        return self._histogram

    @property
    def encoded(self) -> str:
        """The histogram as text for a report that crosses a pipe."""
        return self.histogram.encode().decode("ascii") if self.histogram.get_total_count() else ""

    def count(self) -> TrafficCount:
        """This tally as a record that crosses a pipe or the network."""
        return TrafficCount(self.connections, self.sent, self.answered, self.errors, self.timeouts,
                            round(self.seconds, 6), self.encoded, self.cpu, self.answered_on_time,
                            dict(self.connect_errors), self.sent_late, self.server_closed_first)

    def add(self, count: TrafficCount) -> None:
        """Add another holder's traffic: its counts, and its histogram (ValueError when it is not one)."""
        decoded = count.decoded
        if decoded is not None:
            self.histogram.add(decoded)
        self.connections += count.connections
        self.sent += count.sent
        self.answered += count.answered
        self.answered_on_time += count.answered_on_time
        self.errors += count.errors
        self.timeouts += count.timeouts
        self.connect_errors.update(count.connect_errors)
        self.sent_late += count.sent_late
        self.server_closed_first += count.server_closed_first
        self.seconds = max(self.seconds, count.seconds)
        self._cpu_unknown = self._cpu_unknown or count.cpu is None
        self.cpu = None if self._cpu_unknown else (self.cpu or 0.0) + (count.cpu or 0.0)

    def stats(self, plan: TrafficPlan, client_cpu: Optional[float] = None, server_cpu: Optional[float] = None,
              listen_overflows: Optional[int] = None, syn_retransmits: Optional[int] = None) -> TrafficStats:
        """The step's figures: rates over the traffic's length, percentiles in milliseconds."""
        h = self.histogram
        counted = h.get_total_count() > 0

        def ms(value: int) -> Optional[float]:
            return round(value / 1000.0, 3) if counted else None

        return TrafficStats(
            connections=self.connections, asked_rate=round(plan.asked(self.connections), 1),
            achieved_rate=round(self.answered_on_time / plan.seconds, 1),
            sent=self.sent, answered=self.answered, errors=self.errors, timeouts=self.timeouts,
            p50_ms=ms(h.get_value_at_percentile(50.0)), p99_ms=ms(h.get_value_at_percentile(99.0)),
            p999_ms=ms(h.get_value_at_percentile(99.9)), max_ms=ms(h.get_max_value()),
            seconds=round(self.seconds, 3), client_cpu=client_cpu, server_cpu=server_cpu,
            listen_overflows=listen_overflows, syn_retransmits=syn_retransmits, churn=plan.churn,
            connect_errors=dict(self.connect_errors), sent_late=self.sent_late,
            server_closed_first=self.server_closed_first if plan.churn else None)
