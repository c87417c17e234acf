"""Records of `netprobe ramp`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from netprobe.models import CEILINGS_SCHEMA, RAMP_SCHEMA, Note, PlatformInfo, Prediction, Record


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


@dataclass
class StopInfo(Record):
    """Why a ramp stopped before its target, with a remedy for this platform."""

    reason: str
    side: str  # "client", "server" or "system"
    errno: Optional[str]
    message: str
    at_connections: int
    client_fds: Optional[int]
    server_fds: Optional[int]
    remedy: str
    server_held: Optional[int] = None  # what the server itself counted when it hit the limit
    worker: Optional[str] = None  # the distributed ramp's worker that met the limit, if one did


@dataclass(frozen=True)
class Peak(Record):
    client_fds: Optional[int]
    server_fds: Optional[int]
    client_rss: Optional[int]
    server_rss: Optional[int]


@dataclass(frozen=True)
class RampResult(Record):
    config: dict[str, Any]
    ok: bool
    target: Optional[int]
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
    workers: Optional[list[dict[str, Any]]] = None  # a distributed ramp's workers: who, and what each held
    schema: str = RAMP_SCHEMA

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RampResult:
        """Rebuild a result from its JSON (a distributed ramp's master sends it across a pipe)."""
        stop = data.get("stop")
        return cls(
            config=data["config"], ok=data["ok"], target=data["target"], reached=data["reached"],
            peak=Peak(**data["peak"]), stop=StopInfo(**stop) if stop else None,
            predicted=Prediction(**data["predicted"]), verdict=data["verdict"],
            steps=[RampStep(**s) for s in data["steps"]], platform=PlatformInfo(**data["platform"]),
            notes=[Note(**n) for n in data.get("notes", [])], seconds=data.get("seconds", 0.0),
            client_cpu_seconds=data.get("client_cpu_seconds"), server_cpu_seconds=data.get("server_cpu_seconds"),
            workers=data.get("workers"),
        )


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

    target: Optional[int]
    rows: list[CeilingRow]
    ramps: list[dict[str, Any]]  # each backend's full netprobe.ramp/1 document
    ok: bool
    interrupted: bool
    platform: PlatformInfo
    seconds: float
    schema: str = CEILINGS_SCHEMA
