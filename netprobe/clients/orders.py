"""The one order and the one report between the engine and a holder elsewhere: a client process or a worker.

A holder whose connections live in other processes (``SpreadClient``'s children on this machine,
a distributed ramp's workers) is told one ``HoldOrder`` a step, "hold ``goal`` connections", and
answers one ``HeldReport``. A worker names its own failure (its errnos and limits are its own
machine's) in ``failure``; a client process of this machine hands its first error on as it met
it (``seen``), so the engine names it with the evidence it reads about the server. Both are
checked by ``HeldReport.problem`` before anything in them is believed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from netprobe.clients.outcome import BatchOutcome, ClientFailure, HolderFailure
from netprobe.clients.traffic import TrafficCount, TrafficPlan
from netprobe.records import Record
from netprobe.vocabulary import Verify


@dataclass(frozen=True)
class HoldOrder(Record):
    """Hold ``goal`` connections at step ``step`` (open the difference within ``timeout`` each), then report.

    With ``grace`` set, sweep the held connections first: once at 0, or until the server has said
    all it will within ``grace`` seconds. With ``traffic``, then send it on every held connection.
    """

    step: int
    goal: int
    target: Optional[tuple[str, int]]  # a worker's; a client process has its destinations from its spec
    timeout: float
    verify: Verify
    probe: Optional[str] = None
    grace: Optional[float] = None
    traffic: Optional[TrafficPlan] = None  # then carry this traffic on every held connection (its rate fixed)


@dataclass(frozen=True)
class HeldReport(Record):
    """What a holder elsewhere holds after step ``step``, what the order found, and its first failure."""

    step: int
    held: int
    latencies: list[float]
    failure: Optional[HolderFailure]  # named where the connections are held
    fds: Optional[int]
    rss: Optional[int]
    seen: Optional[ClientFailure] = None  # the first error as met, for the engine to name
    verified: int = 0
    unconnected: int = 0
    unanswered: int = 0
    peer_closed: int = 0
    closed: int = 0  # a sweep's: connections the server closed since they were verified
    said: Optional[str] = None  # what the server said before closing one
    error: Optional[str] = None  # the holder could not start
    traffic: Optional[TrafficCount] = None  # what the order's traffic counted

    @classmethod
    def of(cls, step: int, held: int, out: BatchOutcome, closed: int = 0, said: Optional[str] = None,
           failure: Optional[HolderFailure] = None, fds: Optional[int] = None, rss: Optional[int] = None,
           traffic: Optional[TrafficCount] = None) -> HeldReport:
        """The report of an order whose opening achieved ``out`` and whose sweep found ``closed``."""
        return cls(step, held, list(out.latencies_ms), failure, fds, rss, out.failure, out.verified,
                   out.unconnected, out.unanswered, out.peer_closed, closed, said, traffic=traffic)

    def problem(self, asked: int) -> Optional[str]:
        """Why no holder asked for ``asked`` connections could have sent this report; None when it could."""
        if not 0 <= self.held <= asked:
            return f"it says it holds {self.held:,} of the {asked:,} it was asked for"
        if len(self.latencies) > asked or not all(math.isfinite(x) and x >= 0 for x in self.latencies):
            return "its latencies are not one finite, non-negative figure per connection it opened"
        counts = (("fds", self.fds), ("rss", self.rss), ("verified", self.verified),
                  ("unconnected", self.unconnected), ("unanswered", self.unanswered),
                  ("peer_closed", self.peer_closed), ("closed", self.closed))
        for name, value in counts:
            if value is not None and value < 0:
                return f"its {name} is {value}"
        if self.failure is not None and (self.failure.held < 0 or self.failure.in_flight < 0):
            return "its failure counts a negative number of connections"
        if self.traffic is not None:
            return self.traffic.problem(self.held)
        return None

    def add_to(self, out: BatchOutcome) -> None:
        """Sum what this order found into ``out``; its first failure stays the first."""
        out.verified += self.verified
        out.latencies_ms.extend(self.latencies)
        out.unconnected += self.unconnected
        out.unanswered += self.unanswered
        out.peer_closed += self.peer_closed
        if out.failure is None:
            out.failure = self.seen
        if out.named is None:
            out.named = self.failure


__all__ = ["HeldReport", "HoldOrder"]
