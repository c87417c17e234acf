"""The one-sentence verdict of a ramp: the measurement checked against the prediction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from netprobe.models import Prediction
from netprobe.models.ramp import RampStep, StopInfo
from netprobe.stats import percentiles
from netprobe.stops import NETWORK_STOPS, StopReason, finds_wall
from netprobe.vocabulary import Placement

# |predicted - reached| within this many connections counts as "as predicted".
PREDICTION_SLACK = 8
# A step this many times slower than the median of those before it, and at least this long, is news.
SLOWDOWN_FACTOR = 3.0
SLOWDOWN_FLOOR_S = 0.5
# Stops that are a limit of the server's own (not the clients' predicted ceiling).
SERVER_LIMITS = frozenset({StopReason.CLOSED_BY_SERVER, StopReason.STOPPED_ACCEPTING})


def reached_at_stop(held: int, stop: Optional[StopInfo]) -> int:
    """What a ramp held when it stopped: what its holder holds that the server accepted, against the server's count.

    ``held`` already leaves out what the holder counts but the server never accepted (the kernel
    said so after the step; ``evidence.settled_unaccepted``). Where the server counted what it
    held when its limit struck, that count binds too (a connection it answered at once and shed a
    moment later looks verified to the client).
    """
    held = max(0, held)
    if stop is None or stop.server_held is None:
        return held
    return min(held, stop.server_held)


def ramp_ok(to: Optional[int], goal: int, reached: int, stop: Optional[StopInfo]) -> bool:
    """The one rule of a ramp's success, wherever its connections were held.

    With ``--to``: reached it, with no stop. Without: the ramp found a wall of the target's capacity
    (``StopKind.finds_wall``) or went as far as ``--max``; nothing listening, a signal, a lost
    worker or an unknown stop found no wall.
    """
    if to is not None:
        return stop is None and reached >= goal
    return stop is None or finds_wall(stop.reason)


# A ramp whose very first connections were refused: no capacity was measured at all.
NOTHING_LISTENS = "nothing listens there, or a firewall turns every connection away (the first was refused)"


def verdict(to: Optional[int], reached: int, stop: Optional[StopInfo], pred: Prediction, placement: str) -> str:
    """Say how far the ramp got against ``to``, and whether the stop was the one predicted."""
    predicted = "an unknown ceiling" if pred.max_connections is None else (
        f"{pred.max_connections:,} by {pred.binding_limit}")
    if stop is None:
        what = f"Reached {reached:,} connections" + ("" if to is None else f" (target {to:,})")
        # Why this differs from `netprobe limits`: it counts the fds of a fresh process, this the ones in use.
        fresh = pred.binding_limit == StopReason.FD_LIMIT
        why = f" ({pred.detail}; `netprobe limits` counts a fresh process)" if fresh else ""
        return f"{what}; predicted ceiling {predicted}{why}."
    head = f"Stopped at {reached:,} connections: {stop.reason} on the {stop.side} side"
    if stop.reason == StopReason.INTERRUPTED:
        return f"{head} (predicted ceiling {predicted})."
    if stop.reason == StopReason.MASTER_PAUSED:
        return f"{head}: {stop.message}; no limit of either end was found."
    if stop.reason == StopReason.REFUSED and reached == 0:
        return f"{head}: {NOTHING_LISTENS}."
    if pred.max_connections is None:
        return f"{head}; no prediction to compare."
    if stop.reason == StopReason.LATENCY_KNEE:
        cause = f" ({stop.cause})" if stop.cause is not None else ""
        return (f"{head}{cause}: the knee under traffic, where the server answers too late, below the ceiling "
                f"of idle connections ({predicted}).")
    if stop.reason in NETWORK_STOPS:
        return (f"{head}: turned away, not by a capacity limit of either end "
                f"(predicted ceiling {predicted}); the remedy below says where.")
    if stop.reason in SERVER_LIMITS and pred.placement in ("target", "workers"):
        where = "at" if abs(reached - pred.max_connections) <= PREDICTION_SLACK else "below"
        return f"{head}: the server's own limit, {where} the predicted ceiling ({predicted}).{_own_fds(stop, reached)}"
    gap = reached - pred.max_connections
    if stop.reason == pred.binding_limit and abs(gap) <= PREDICTION_SLACK:
        return f"{head}, as predicted ({predicted})."
    if stop.reason == pred.binding_limit:
        why = (" In one process, a batch's client sockets take fd numbers before the server accepts"
               " them, so the server meets the limit earlier than 2 fds per connection suggests."
               if placement == Placement.THREAD else " Other fds opened during the run moved the ceiling.")
        return f"{head}; predicted {predicted}, {abs(gap):,} {'fewer' if gap < 0 else 'more'}.{why}"
    return (f"{head}, before the predicted limit ({predicted}): something not in the prediction "
            "struck first; the remedy below applies to what did.")


def _own_fds(stop: StopInfo, reached: int) -> str:
    """What of a server's cap its own descriptors take, where its process was read: " It had 100 fds open ..."."""
    fds = stop.server_fds
    if fds is None or fds <= reached:
        return ""
    return (f" It had {fds:,} fds open holding {reached:,} of these connections: {fds - reached:,} are its own "
            "(listeners, logs, pipes, connections to its backends, other clients), which a cap counted in descriptors "
            "(memcached -c, nginx worker_connections) takes from the clients' share.")


def slowdown(steps: list[RampStep]) -> Optional[str]:
    """Say which step slowed down sharply and what the kernel counted meanwhile, if one did."""
    for i in range(2, len(steps)):
        (usual,) = percentiles((s.seconds for s in steps[:i]), (0.5,))
        step = steps[i]
        if usual is None or step.seconds < max(SLOWDOWN_FLOOR_S, SLOWDOWN_FACTOR * usual):
            continue
        said = (f"The step to {step.connections:,} took {step.seconds:.1f} s against {usual:.2f} s for each "
                "step before it")
        counted = []
        if step.listen_overflows:
            counted.append(f"{step.listen_overflows:,} listen-queue overflows")
        if step.syn_retransmits:
            counted.append(f"{step.syn_retransmits:,} SYN retransmits")
        if counted:
            return (f"{said}, with {' and '.join(counted)} in the kernel's counters: the server accepts more "
                    "slowly than clients connect, and the kernel drops SYNs at the full queue.")
        return f"{said}."
    return None


def churn_verdict(to: Optional[int], reached: int, stop: Optional[StopInfo], pred: Prediction,
                  steps: Sequence[RampStep] = ()) -> str:
    """Say how many new connections a second a churn ramp sustained, and whether the ports' arithmetic held."""
    where = _time_wait_went(steps)
    if stop is None:
        return (f"Sustained {reached:,} new connections a second" + ("" if to is None else f" (target {to:,})") +
                f", each closed after one exchange; {pred.detail}.{where}")
    cause = f" ({stop.cause})" if stop.cause is not None else ""
    head = (f"Stopped churning after {reached:,} new connections a second: {stop.reason}{cause} on the {stop.side} "
            f"side")
    if stop.reason == StopReason.INTERRUPTED:
        return f"{head}.{where}"
    return f"{head}; {pred.detail}.{where}"


def _time_wait_went(steps: Sequence[RampStep]) -> str:
    """Where churn's TIME_WAIT did not go to this side's ports, as the steps counted it: sentences, or ""."""
    churned = [t for s in steps if (t := s.traffic) is not None]
    skipped = sum(t.time_wait_overflows or 0 for t in churned)
    said = (f" The kernel closed {skipped:,} of these connections without TIME_WAIT: its table was full "
            "(net.ipv4.tcp_max_tw_buckets).") if skipped else ""
    answered, server_first = sum(t.answered for t in churned), sum(t.server_closed_first or 0 for t in churned)
    if server_first and 2 * server_first >= answered:
        said += (f" The server closed {server_first:,} of the {answered:,} answered connections first, so their "
                 "TIME_WAIT was on its side and this side's ports were free at once: the ports' arithmetic, in "
                 "which the client closes first, does not bind this server.")
    return said
