"""Records of `netprobe ramp`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from netprobe.models import RAMP_SCHEMA, Note, PlatformInfo, Prediction, Record


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
    schema: str = RAMP_SCHEMA
