"""Records of `netprobe ramp`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from netprobe.causes import StopCause
from netprobe.clients.outcome import HolderFailure
from netprobe.clients.traffic import TrafficStats
from netprobe.models import CEILINGS_SCHEMA, RAMP_SCHEMA, Note, PlatformInfo, Prediction
from netprobe.ramp_spec import RampSpec
from netprobe.records import Record
from netprobe.stops import StopReason
from netprobe.vocabulary import Side


@dataclass(frozen=True)
class RampStep(Record):
    """One step of a ramp: what was held and what it cost."""

    connections: int
    client_fds: Optional[int]
    server_fds: Optional[int]
    client_rss: Optional[int]
    server_rss: Optional[int]
    client_cpu: Optional[float]
    server_cpu: Optional[float]
    p50_ms: Optional[float]
    p99_ms: Optional[float]
    seconds: float
    rate: float  # new connections per second during the step
    kernel_tcp_inuse: Optional[int] = None
    kernel_tcp_mem_pages: Optional[int] = None
    #: Machine-wide kernel counters over the step (Linux): handshakes completed at a full accept
    #: queue, SYNs dropped at listeners, SYNs sent again. None where the OS does not say.
    listen_overflows: Optional[int] = None
    listen_drops: Optional[int] = None
    syn_retransmits: Optional[int] = None
    #: What traffic over the held connections gave (``ramp --rate``); None for an idle ramp.
    traffic: Optional[TrafficStats] = None


@dataclass
class StopInfo(Record):
    """Why a ramp stopped before its target, with a remedy for this platform."""

    reason: StopReason
    side: Side
    errno: Optional[str]
    message: str
    at_connections: int
    client_fds: Optional[int]
    server_fds: Optional[int]
    remedy: str
    server_held: Optional[int] = None  # what the server itself counted when it hit the limit
    worker: Optional[str] = None  # the distributed ramp's worker that met the limit, if one did
    #: Connections the kernel completed that the server never accepted (its listen queue), not held.
    unaccepted: Optional[int] = None
    #: What the server said before closing connections, printable and bounded.
    said: Optional[str] = None
    #: The server's setting behind a refusal netprobe recognised ("redis maxclients").
    setting: Optional[str] = None
    #: Why, for a stop with several possible causes (the knee under traffic).
    cause: Optional[StopCause] = None


@dataclass(frozen=True)
class Peak(Record):
    """The most fds and RSS each side used over a ramp's steps."""

    client_fds: Optional[int]
    server_fds: Optional[int]
    client_rss: Optional[int]
    server_rss: Optional[int]


@dataclass(frozen=True)
class ProcessShare(Record):
    """One process of a ramp spread over processes on one machine, at its last step."""

    side: Side
    pid: int
    held: int
    fds: Optional[int]
    rss: Optional[int]


@dataclass
class WorkerSummary(Record):
    """One worker of a distributed ramp: who it is, what it can hold, and what it held at each step."""

    id: str
    host: str
    pid: int
    netprobe: str
    locust: str
    python: str
    system: str
    soft_fds: Optional[int]
    hard_fds: Optional[int]
    fds_at_start: int
    port_low: Optional[int]
    port_high: Optional[int]
    ports: Optional[int]
    source_ips: list[str]
    selector: str
    held: int = 0
    by_step: list[int] = field(default_factory=list)
    fds: Optional[int] = None
    rss: Optional[int] = None
    failure: Optional[HolderFailure] = None


@dataclass(frozen=True)
class RampResult(Record):
    """One ramp: what it was asked, how far it got, what stopped it, and every step on the way."""

    config: RampSpec
    ok: bool
    to: Optional[int] = field(metadata={"json": "target"})  # the connection count asked for (--to)
    reached: int
    peak: Peak
    stop: Optional[StopInfo]
    predicted: Prediction
    verdict: str  # the prediction checked against the measurement, in one line
    steps: list[RampStep]
    platform: PlatformInfo
    notes: list[Note] = field(default_factory=list)
    seconds: float = 0.0
    client_cpu_seconds: Optional[float] = None  # over the steps; the client is netprobe's own process
    server_cpu_seconds: Optional[float] = None  # over the steps; None without a server process
    workers: Optional[list[WorkerSummary]] = None  # a distributed ramp's workers: who, and what each held
    processes: Optional[list[ProcessShare]] = None  # a ramp spread over processes: each one's share at the end
    schema: str = RAMP_SCHEMA

    @property
    def interrupted(self) -> bool:
        """Whether a signal ended it (exit status 130)."""
        return self.stop is not None and self.stop.reason == StopReason.INTERRUPTED


@dataclass(frozen=True)
class CeilingRow(Record):
    """One backend's ramp, summed up: how far it got, what stopped it, what each connection cost."""

    backend: str
    waits_with: Optional[str]  # the selector class or event loop the server waits on
    placement: str
    reached: int
    ok: bool
    stop_reason: Optional[str]
    stop_side: Optional[str]
    predicted: Optional[int]
    binding_limit: Optional[str]
    connect_rate: Optional[float]  # connections/s over the steps
    client_rss_per_connection: Optional[float]  # bytes, slope from the first to the last step
    server_rss_per_connection: Optional[float]
    server_cpu_us_per_connection: Optional[float]
    p99_ms: Optional[float]  # the worst step's p99 check latency
    seconds: float


@dataclass(frozen=True)
class CeilingsResult(Record):
    """``ramp --backend all``: every backend ramped in turn on this machine, one row each."""

    to: Optional[int] = field(metadata={"json": "target"})  # the connection count asked for (--to)
    rows: list[CeilingRow]
    ramps: list[RampResult]  # each backend's full netprobe.ramp/1 document
    ok: bool
    interrupted: bool
    platform: PlatformInfo
    seconds: float
    schema: str = CEILINGS_SCHEMA


# A worker's failure is the one record every holder names its failures with.
WorkerFailure = HolderFailure
