"""The knee under traffic: the step where latency or throughput gave out, and what gave out first.

A step under ``--rate`` is the knee when its p99 passes the plan's ``max_latency_ms`` or its replies
fall more than ``RATE_SHORTFALL`` short of the rate asked. Its cause is read from evidence of the
steps so far: which side's CPU reached a whole core per process, and from which step on (the one
that got there first is the cause; the client first on a tie, so the server is never blamed for
what the measuring side could not send). Else a client that fell behind its own schedule (its
loop noticed 1% of the requests late by half of ``max_latency_ms``): its own CPU where it ran at
least as long as it waited for a CPU, else the machine's contention on the client side, whatever
the server waited (late sends are the client's own evidence; a server's waits delay replies, not
sends). Else a side that waited in the run queue as long as it ran, for a quarter of a core or
half the latency bound in all (a machine busy with other work, which also starves a server's
accepts and reads). A contended client opens fewer connections, never more, so the kernel's
accept-queue overflows during the step come before it. Then the segments the run's own
connections sent again (or, where those cannot be read, the machine's handshake retransmits);
else, on a machine where some task waited for a CPU half the step or more, its contention; else a
server that answered late with CPU to spare.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Optional

from netprobe.causes import StopCause
from netprobe.clients.traffic import RATE_SHORTFALL, TrafficPlan, TrafficStats
from netprobe.models.ramp import RampStep
from netprobe.vocabulary import Side

# Percent of one core per process at which a side counts as saturated (psutil's sampling is coarse).
SATURATED = 90.0
# The share of a step's requests the client may notice late before the knee is its own.
BEHIND = 0.01
# Percent of one core per process a side must have waited in the run queue, and at least as long as it
# ran, for its late replies to be the machine's contention rather than its own work or its own waits.
CONTENDED = 25.0
# Or the share of the latency bound that a side's waits in the run queue over a step, added up, must
# reach (again waiting at least as long as it ran): a server that sleeps between accepts runs almost
# nothing, yet a third of a second spent ready but not running delays every connection queued behind it.
CONTENDED_OF_BOUND = 0.5
# Percent of a step in which some task on the machine waited for a CPU (Linux's pressure stall
# information) from which a server that answered late with CPU to spare is named for the machine:
# on a quiet machine it is near 0, beside CI's other lanes 75-91% was read.
PRESSURED = 50.0


class Knee(NamedTuple):
    """The knee of a ramp under traffic: what was seen, its cause where evidence names one, and its side."""

    message: str
    cause: Optional[StopCause]
    side: Side


class Sides(NamedTuple):
    """How many processes each side has, and whether they are one process (an in-process server)."""

    server_processes: int
    client_processes: int
    shared: bool


def missed(stats: TrafficStats, plan: TrafficPlan) -> Optional[str]:
    """What this step's traffic missed: the latency bound or the rate; None when it met both."""
    if stats.p99_ms is not None and stats.p99_ms > plan.max_latency_ms:
        return f"p99 latency {stats.p99_ms:,.1f} ms passed --max-latency {plan.max_latency_ms:g} ms"
    if stats.asked_rate > 0 and stats.achieved_rate < (1.0 - RATE_SHORTFALL) * stats.asked_rate:
        return (f"the replies ({stats.achieved_rate:,.0f}/s) fell {1 - stats.achieved_rate / stats.asked_rate:.0%} "
                f"short of the {stats.asked_rate:,.0f}/s asked")
    return None


def _first(steps: list[RampStep], saturated: Callable[[TrafficStats], bool]) -> Optional[int]:
    """The index of the first step from which ``saturated`` held through to the last."""
    first = None
    for i, step in enumerate(steps):
        if step.traffic is not None and saturated(step.traffic):
            first = i if first is None else first
        else:
            first = None
    return first


def knee_of(steps: list[RampStep], plan: TrafficPlan, sides: Sides) -> Optional[Knee]:
    """The knee at the last of ``steps``, with its cause, or None when that step met the plan."""
    last = steps[-1]
    stats = last.traffic
    if stats is None:
        return None
    what = missed(stats, plan)
    if what is None:
        return None
    held = f"{what} at {_where(last)} ({_load(stats)})"
    client_full = _first(steps, lambda t: _full(t.client_busy, t.client_cpu, sides.client_processes))
    server_full = _first(steps, lambda t: _full(t.server_busy, t.server_cpu, sides.server_processes)
                         or (t.server_busiest is not None and t.server_busiest >= SATURATED))
    if sides.shared and client_full is not None:
        return Knee(f"{held}; netprobe's process, client and server in one, was CPU-bound "
                    f"({_cpu(stats.client_cpu, stats.client_busy)})", StopCause.SHARED_CPU, Side.CLIENT)
    if client_full is not None and (server_full is None or client_full <= server_full):
        also = "" if server_full is None else f"; the server's followed at {_where(steps[server_full])}"
        return Knee(f"{held}; netprobe's client was CPU-bound ({_cpu(stats.client_cpu, stats.client_busy)}) from "
                    f"{_where(steps[client_full])} on{also}", StopCause.CLIENT_CPU, Side.CLIENT)
    if server_full is not None:
        also = "" if client_full is None else f"; the client's followed at {_where(steps[client_full])}"
        one = ("" if sides.server_processes < 2 or stats.server_busiest is None else
               f"; its busiest process ran or waited to run {stats.server_busiest:.0f}%")
        return Knee(f"{held}; the server was CPU-bound ({_cpu(stats.server_cpu, stats.server_busy)}{one}) from "
                    f"{_where(steps[server_full])} on{also}", StopCause.SERVER_CPU, Side.SERVER)
    behind = stats.sent_late is not None and stats.sent_late > 0 and stats.sent_late >= BEHIND * stats.sent
    late = ("" if not behind else f"netprobe's client noticed {stats.sent_late:,} of its {stats.sent:,} requests "
            f"more than {plan.late_send_s * 1000:g} ms after they fell due")
    client_wait = _wait(stats.client_cpu, stats.client_busy)
    if behind and (client_wait is None or client_wait[0] <= client_wait[1]):
        return Knee(f"{held}; {late}: it fell behind its own schedule ({_cpu(stats.client_cpu, stats.client_busy)})",
                    StopCause.CLIENT_CPU, Side.CLIENT)
    # A client behind its schedule that waited longer than it ran is the contended side, whatever the
    # server waited: its late sends are its own evidence, and a server's waits delay replies, not sends.
    contended = (Side.CLIENT, *client_wait) if behind and client_wait is not None else _contended(stats, sides, plan)
    if contended is not None and not (contended[0] is Side.CLIENT and stats.listen_overflows):
        side, waited, ran = contended
        who = ("the server's processes" if side is Side.SERVER else
               f"{late}, and it" if behind else "netprobe's client")
        return Knee(f"{held}; {who} waited for a CPU {waited:.0f}% of a core and ran {ran:.0f}%: the machine's "
                    "CPUs were busy with other work", StopCause.CPU_CONTENTION, side)
    if stats.listen_overflows:
        also = ("" if contended is None else
                f"; netprobe's client also waited for a CPU {contended[1]:.0f}% of a core, which opens fewer "
                "connections, not more")
        return Knee(f"{held}; the kernel counted {stats.listen_overflows:,} accept-queue overflows meanwhile{also}",
                    StopCause.LISTEN_OVERFLOW, Side.SERVER)
    if stats.retransmits:
        return Knee(f"{held}; this run's connections sent {stats.retransmits:,} segments again meanwhile",
                    StopCause.RETRANSMITS, Side.NETWORK)
    if stats.syn_retransmits:
        return Knee(f"{held}; the kernel sent {stats.syn_retransmits:,} handshakes again meanwhile",
                    StopCause.RETRANSMITS, Side.NETWORK)
    if stats.cpu_pressure is not None and stats.cpu_pressure >= PRESSURED:
        return Knee(f"{held}; the server was not CPU-bound ({_cpu(stats.server_cpu, stats.server_busy)}), but some "
                    f"task on this machine waited for a CPU {stats.cpu_pressure:.0f}% of the step: the machine's CPUs "
                    "were busy with other work", StopCause.CPU_CONTENTION, _waited_longer(stats))
    if stats.server_cpu is not None or stats.server_busy is not None:
        return Knee(f"{held}; the server was not CPU-bound ({_cpu(stats.server_cpu, stats.server_busy)})",
                    StopCause.SERVER_WAITS, Side.SERVER)
    return Knee(f"{held}; the server's CPU cannot be read from here, so its cause is not known", None, Side.SERVER)


def _contended(stats: TrafficStats, sides: Sides, plan: TrafficPlan) -> Optional[tuple[Side, float, float]]:
    """The side that waited longest for a CPU, with its wait and run percentages, where it waited enough.

    Enough is ``CONTENDED`` percent of a core per process, or run-queue waits adding up to
    ``CONTENDED_OF_BOUND`` of the latency bound over the step; either way at least as long as it ran.
    """
    # Half the bound, in the percent of a core it is over this step.
    of_bound = 100.0 * CONTENDED_OF_BOUND * plan.max_latency_ms / 1000.0 / stats.seconds if stats.seconds > 0 else None
    found = []
    for side, wait, processes in ((Side.SERVER, _wait(stats.server_cpu, stats.server_busy), sides.server_processes),
                                  (Side.CLIENT, _wait(stats.client_cpu, stats.client_busy), sides.client_processes)):
        if wait is not None:
            waited, ran = wait
            enough = waited >= CONTENDED * processes or (of_bound is not None and waited >= of_bound)
            if enough and waited >= ran:
                found.append((waited / processes, side, waited, ran))
    if not found:
        return None
    _, side, waited, ran = max(found, key=lambda f: f[0])
    return side, waited, ran


def _waited_longer(stats: TrafficStats) -> Side:
    """The side that waited longer for a CPU over the step; the client where the server's wait is unknown."""
    server, client = _wait(stats.server_cpu, stats.server_busy), _wait(stats.client_cpu, stats.client_busy)
    if server is None:
        return Side.CLIENT
    return Side.SERVER if client is None or server[0] >= client[0] else Side.CLIENT


def _wait(cpu: Optional[float], busy: Optional[float]) -> Optional[tuple[float, float]]:
    """A side's percent of a core waited in the run queue and run, or None where either is unknown."""
    return None if cpu is None or busy is None else (busy - cpu, cpu)


def _full(busy: Optional[float], cpu: Optional[float], processes: int) -> bool:
    """Whether a side was CPU-bound: running or waiting to run all the time (else, where unknown, running)."""
    used = busy if busy is not None else cpu
    return used is not None and used >= SATURATED * processes


def _cpu(cpu: Optional[float], busy: Optional[float]) -> str:
    """A side's CPU in words: what it used, and what it ran or waited to run where known."""
    used = "an unknown share" if cpu is None else f"{cpu:.0f}%"
    wanted = "" if busy is None else f", running or waiting to run {busy:.0f}%"
    return f"{used} of a core{wanted}"


def _where(step: RampStep) -> str:
    """Where a step stood: the connections it held, or under churn the new connections a second it asked."""
    if step.traffic is not None and step.traffic.churn:
        return f"{step.traffic.asked_rate:,.0f} new connections a second"
    return f"{step.connections:,} connections"


def _load(stats: TrafficStats) -> str:
    if stats.p50_ms is None:
        return f"{stats.asked_rate:,.0f} requests/s asked, {stats.achieved_rate:,.0f}/s answered"
    return (f"{stats.asked_rate:,.0f} requests/s asked, {stats.achieved_rate:,.0f}/s answered, "
            f"p50 {stats.p50_ms:,.1f} ms")


class Demand(NamedTuple):
    """CPU seconds run or waited to run so far: the client's processes together, and each server process's."""

    client: Optional[float]
    server: dict[int, Optional[float]]


class Busy(NamedTuple):
    """Percent of one core run or waited to run over a stretch: the client, the server, its busiest process."""

    client: Optional[float]
    server: Optional[float]
    server_busiest: Optional[float]


def stall_percent(before: Optional[float], after: Optional[float], seconds: float) -> Optional[float]:
    """Percent of ``seconds`` some task waited for a CPU, from two ``cpu_stalled`` readings; None where unknown."""
    if before is None or after is None or seconds <= 0:
        return None
    return round(min(100.0, 100.0 * (after - before) / seconds), 1)


def busy_percent(before: Demand, after: Demand, seconds: float) -> Busy:
    """Percent of one core each side, and the server's busiest process, ran or waited to run; None where unknown."""
    def share(a: Optional[float], b: Optional[float]) -> Optional[float]:
        return None if a is None or b is None or seconds <= 0 else round(100.0 * (b - a) / seconds, 1)

    client = share(before.client, after.client)
    each = [share(before.server.get(pid), after.server.get(pid)) for pid in after.server]
    known = [e for e in each if e is not None]
    if not each or len(known) < len(each):  # no server process, or one that could not be read
        return Busy(client, None, None)
    return Busy(client, round(sum(known), 1), max(known))
