"""Why a stop with several possible causes happened: the knee under traffic, churn's ports; one record per cause.

Adding a cause is a member of ``StopCause`` plus its ``CauseKind`` in ``CAUSES``; ``stop.cause`` in
the JSON, the remedy and the table of docs/traffic.md (``causes_table``) read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from netprobe.vocabulary import Word


class StopCause(Word):
    """Why a stop that can have several causes happened: the knee under traffic, or ports held under churn."""

    SERVER_CPU = "server_cpu"  # the server's processes used a whole core each
    CLIENT_CPU = "client_cpu"  # netprobe's own client did: the measure, not the server, gave out
    SHARED_CPU = "shared_cpu"  # netprobe's own server in netprobe's process: one core for both sides
    LISTEN_OVERFLOW = "listen_overflow"  # the accept queue overflowed during the traffic
    RETRANSMITS = "retransmits"  # handshakes were sent again during the traffic
    CPU_CONTENTION = "cpu_contention"  # a side waited for a CPU as long as it ran: the machine was busy elsewhere
    SERVER_WAITS = "server_waits"  # the server answered late with CPU to spare: it waits on something
    TIME_WAIT = "time_wait"  # churn: the ports to the target were held in TIME_WAIT by connections closed here


@dataclass(frozen=True)
class CauseKind:
    """One cause: what it means and how to get past it."""

    cause: StopCause
    meaning: str
    remedy: str


CAUSES: tuple[CauseKind, ...] = (
    CauseKind(StopCause.SERVER_CPU,
              "the server's processes were CPU-bound: each ran, or waited in the run queue to run, 90% of the time "
              "or more",
              "the server is CPU-bound at this load: give it more processes or threads (nginx worker_processes, "
              "SO_REUSEPORT, --processes for netprobe's own), or spend less CPU per request"),
    CauseKind(StopCause.CLIENT_CPU,
              "netprobe's client was CPU-bound first (or at the same step), or fell behind its own send schedule: "
              "the load could not be sent on time",
              "the client, not the server, gave out: add client processes (--client-processes N, where this "
              "machine has cores to spare) or machines (--workers), or ask a lower --rate; the server's own "
              "limit is further on"),
    CauseKind(StopCause.SHARED_CPU, "netprobe's own server runs in netprobe's process (--placement thread): "
              "one core served and loaded",
              "run the server in a process of its own (--placement process, the default) to tell the sides apart"),
    CauseKind(StopCause.LISTEN_OVERFLOW, "the kernel counted accept-queue overflows during the traffic",
              "the server accepts too slowly while it serves: raise its listen() backlog and net.core.somaxconn, "
              "or give it more accepting processes"),
    CauseKind(StopCause.RETRANSMITS, "the run's connections sent segments again during the traffic (Linux's "
              "TCP information on each), or, where that cannot be read, the kernel sent handshakes again",
              "packets are lost or dropped under this load: look at queues, the firewall and the link"),
    CauseKind(StopCause.CPU_CONTENTION, "the server's processes (or netprobe's client) were ready to run but "
              "waited in the run queue at least as long as they ran (a quarter of a core or more, or half the "
              "latency bound in all), or the server answered late with CPU to spare while some task on the "
              "machine waited for a CPU half the step or more: the machine's CPUs were busy with other work",
              "the machine, not the server's code, gave out: run it on a quieter machine or give the server cores "
              "of its own (taskset, a cpuset, more vCPUs), or load it from another machine (--workers)"),
    CauseKind(StopCause.SERVER_WAITS, "the server answered late with CPU to spare",
              "the server waits on something while it has CPU to spare (a lock, a disk, a service behind it, a "
              "pause, a bound on its own concurrency): profile its waits"),
    CauseKind(StopCause.TIME_WAIT, "under churn, the ephemeral ports to the target were held in TIME_WAIT by "
              "connections this side closed first, and connect() found none free (EADDRNOTAVAIL)",
              "reuse connections instead of opening one per request (HTTP keep-alive, a connection pool); let the "
              "server close first; on Linux `sysctl -w net.ipv4.tcp_tw_reuse=1` (reuse for outgoing connections, "
              "with timestamps); widen the ephemeral port range; or connect from more source addresses "
              "(--source-ips) or to more server ports (--ports)"),
)

_BY_CAUSE = {kind.cause: kind for kind in CAUSES}


def cause_of(cause: StopCause) -> CauseKind:
    """The record of ``cause``."""
    return _BY_CAUSE[cause]


def causes_table() -> str:
    """The knee's cause table of docs/traffic.md, in markdown."""
    rows = ["| `stop.cause` | what the evidence showed | remedy |", "|---|---|---|"]
    rows += [f"| `{k.cause}` | {k.meaning} | {k.remedy} |" for k in CAUSES]
    return "\n".join(rows) + "\n"
