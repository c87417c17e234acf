"""Churn's wall: the rate of new connections at which the OS refused opens, and TIME_WAIT's arithmetic.

Under ``ramp --churn`` each connection is closed by the client first, so it stays in TIME_WAIT on
the client's side for ``platform.TIME_WAIT_SECONDS`` (60 s on Linux), holding its ephemeral port
to that one destination. With P ports, S source addresses and D destinations, a rate above
``P * S * D / TIME_WAIT`` new connections a second runs out of ports once the first of them
come round again: connect() fails with EADDRNOTAVAIL. Linux reuses a port in TIME_WAIT for a new
outgoing connection after a second (``net.ipv4.tcp_tw_reuse``: 1 everywhere, 2, the default,
on loopback only), which moves that ceiling a sixtyfold further. And Linux keeps at most
``net.ipv4.tcp_max_tw_buckets`` connections in TIME_WAIT: past that a close skips TIME_WAIT
(TCPTimeWaitOverflow), so where the cap is below the ports they never run out by TIME_WAIT.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import NamedTuple, Optional

from netprobe import platform
from netprobe.causes import StopCause
from netprobe.clients.traffic import TrafficStats
from netprobe.models import Prediction
from netprobe.platform import SystemFacts
from netprobe.ramp_spec import RampSpec
from netprobe.stops import StopReason
from netprobe.vocabulary import Operation, Side

# Linux reuses a port in TIME_WAIT once a new connection's timestamp is this much later (tcp_tw_reuse_delay).
TW_REUSE_SECONDS = 1.0
# A share of the port space in TIME_WAIT at which TIME_WAIT is what took the ports.
TIME_WAIT_SHARE = 0.5


class ChurnCeiling(NamedTuple):
    """The most new connections a second the ports allow, and the arithmetic in words."""

    rate: Optional[float]  # None: TIME_WAIT is capped below the ports (tcp_max_tw_buckets), so no rate runs them out
    ports: int  # ephemeral ports over every source address and destination
    seconds: float  # how long each port stays held after a close
    detail: str


class Refused(NamedTuple):
    """A step of churn whose opens the OS refused: the stop, its errno, its cause and what it says."""

    reason: StopReason
    side: Side
    errno: str
    cause: Optional[StopCause]
    message: str


def reuses_time_wait(facts: SystemFacts, destinations: Sequence[tuple[str, int]]) -> bool:
    """Whether Linux hands a port in TIME_WAIT to a new connection to these destinations (tcp_tw_reuse)."""
    if facts.tcp_tw_reuse is None:
        return False
    loopback = all(ipaddress.ip_address(host).is_loopback for host, _ in destinations)
    return facts.tcp_tw_reuse == 1 or (facts.tcp_tw_reuse == 2 and loopback)


def churn_ceiling(facts: SystemFacts, sources: int, destinations: Sequence[tuple[str, int]]) -> Optional[ChurnCeiling]:
    """The rate of new connections the ephemeral ports sustain when the client closes first; None where unknown."""
    ports, held = facts.port_count, platform.TIME_WAIT_SECONDS
    if ports is None or held is None or not destinations:
        return None
    total = ports * max(1, sources) * len(destinations)
    reused = reuses_time_wait(facts, destinations)
    seconds = TW_REUSE_SECONDS if reused else held
    spread = "" if total == ports else (f" ({ports:,} x {max(1, sources)} source addresses x "
                                        f"{len(destinations)} destinations)")
    how = (f"each reused after {seconds:g} s, net.ipv4.tcp_tw_reuse={facts.tcp_tw_reuse}" if reused
           else f"each held {held:g} s in TIME_WAIT")
    buckets = facts.tcp_max_tw_buckets
    if buckets is not None and buckets < total:
        return ChurnCeiling(None, total, seconds, f"{total:,} ephemeral ports{spread}, {how}, but "
                            f"net.ipv4.tcp_max_tw_buckets={buckets:,} keeps fewer in TIME_WAIT: past {buckets:,} the "
                            "kernel closes without TIME_WAIT, so closing first never runs the ports out")
    return ChurnCeiling(total / seconds, total, seconds, f"{total:,} ephemeral ports{spread}, {how}, sustain "
                        f"{total / seconds:,.1f} new connections a second")


def refused_opens(stats: TrafficStats, ceiling: Optional[ChurnCeiling]) -> Optional[Refused]:
    """The stop of a churn step whose opens the OS refused at once, by the errno seen most; None when none was."""
    if stats.most_refused is None:
        return None
    name, count = stats.most_refused
    reason = platform.classify_named_errno(name, Operation.CONNECT)
    said = (f"connect() refused {count:,} of {stats.sent:,} new connections with {name} at "
            f"{stats.asked_rate:,.0f} new connections a second")
    if reason == StopReason.PORT_EXHAUSTION:
        cause, why = _port_cause(stats, ceiling)
        return Refused(reason, Side.CLIENT, name, cause, f"{said}: no ephemeral port was free; {why}")
    if reason is None:
        return Refused(StopReason.OTHER, Side.CLIENT, name, None, f"{said}, which netprobe does not name yet")
    side = Side.SERVER if reason in (StopReason.REFUSED, StopReason.CLOSED_BY_SERVER) else Side.CLIENT
    return Refused(reason, side, name, None, said)


def _port_cause(stats: TrafficStats, ceiling: Optional[ChurnCeiling]) -> tuple[Optional[StopCause], str]:
    """Whether TIME_WAIT took the ports, by the count read after the step, else by the arithmetic; and why."""
    if stats.time_wait is not None and ceiling is not None:
        share = stats.time_wait / ceiling.ports
        if share >= TIME_WAIT_SHARE:
            return StopCause.TIME_WAIT, (f"{stats.time_wait:,} of this side's connections to the target were in "
                                         f"TIME_WAIT, closed here first ({ceiling.detail})")
        return None, (f"only {stats.time_wait:,} of its {ceiling.ports:,} ports were in TIME_WAIT: something else "
                      "holds them (other connections to the same address)")
    if ceiling is not None and ceiling.rate is not None and stats.asked_rate > ceiling.rate:
        return StopCause.TIME_WAIT, (f"TIME_WAIT cannot be counted here, but the rate asked is above what the ports "
                                     f"sustain ({ceiling.detail})")
    return None, "what holds the ports cannot be told here"


def churn_prediction(spec: RampSpec, ceiling: Optional[ChurnCeiling]) -> Prediction:
    """A churn ramp's prediction: the rate the ports allow (in ``max_connections``, new connections a second)."""
    selector, backend = spec.selector_class or "target", spec.backend.name
    if ceiling is None:
        why = ("the workers' ports are their own machines'" if spec.distributed
               else "this OS does not say its ports or how long TIME_WAIT holds them")
        return Prediction(selector, spec.placement, None, None, f"the ports' limit is not known ({why})", backend)
    if ceiling.rate is None:
        return Prediction(selector, spec.placement, None, None, ceiling.detail, backend)
    return Prediction(selector, spec.placement, int(ceiling.rate), StopReason.PORT_EXHAUSTION, ceiling.detail,
                      backend)
