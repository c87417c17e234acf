"""Typed result records shared by every command; each has ``to_dict()`` for JSON.

Every field exists on every platform: a fact a platform cannot provide is
``None`` and the report's ``notes`` say why, so the JSON shape never varies.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional

LIMITS_SCHEMA = "netprobe.limits/1"
RAMP_SCHEMA = "netprobe.ramp/1"
REPORT_SCHEMA = "netprobe.report/1"
BENCH_SELECTORS_SCHEMA = "netprobe.bench.selectors/1"
BENCH_MODELS_SCHEMA = "netprobe.bench.models/1"
BENCH_ECHO_SCHEMA = "netprobe.bench.echo/1"
BENCH_TRANSFER_SCHEMA = "netprobe.bench.transfer/1"


class Record:
    """Mixin giving dataclasses a JSON-ready ``to_dict()``."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Note(Record):
    """Why a fact is missing or was adjusted."""

    field: str
    reason: str


@dataclass(frozen=True)
class PlatformInfo(Record):
    system: str
    release: str
    machine: str
    python: str
    implementation: str


@dataclass(frozen=True)
class SelectorCap(Record):
    """What bounds one selector: an fd number, a count of sockets, or RLIMIT_NOFILE."""

    kind: str  # "fd_number", "count" or "rlimit"
    limit: Optional[int]
    detail: str


@dataclass(frozen=True)
class SelectorsInfo(Record):
    default: str
    available: list[str]
    caps: dict[str, SelectorCap]
    why_default: str


@dataclass(frozen=True)
class FdLimits(Record):
    soft: Optional[int]
    hard: Optional[int]
    system_max: Optional[int]
    system_in_use: Optional[int]
    per_process_max: Optional[int]


@dataclass(frozen=True)
class PortRange(Record):
    low: Optional[int]
    high: Optional[int]
    count: Optional[int]


@dataclass(frozen=True)
class NetworkLimits(Record):
    somaxconn: Optional[int]
    ephemeral_ports: PortRange
    tcp_tw_reuse: Optional[int]
    tcp_fin_timeout: Optional[int]
    tcp_max_syn_backlog: Optional[int]
    nf_conntrack_max: Optional[int]


@dataclass(frozen=True)
class ProcessStats(Record):
    pid: int
    fds: Optional[int]  # file descriptors on POSIX, handles on Windows
    rss: Optional[int]
    threads: Optional[int]
    cpu_seconds: Optional[float]


@dataclass(frozen=True)
class MemoryStats(Record):
    total: Optional[int]
    available: Optional[int]


@dataclass(frozen=True)
class Prediction(Record):
    """The predicted connection ceiling for one selector and placement."""

    selector: str
    placement: str  # "process" (1 fd per connection) or "thread" (2)
    max_connections: Optional[int]
    binding_limit: Optional[str]
    detail: str


@dataclass(frozen=True)
class LimitsReport(Record):
    summary: str  # the binding limit of the default selector, in one sentence
    platform: PlatformInfo
    selectors: SelectorsInfo
    fds: FdLimits
    network: NetworkLimits
    process: ProcessStats
    memory: MemoryStats
    predicted: list[Prediction]
    notes: list[Note]
    schema: str = LIMITS_SCHEMA


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


@dataclass(frozen=True)
class ReportColumn(Record):
    label: str  # platform and Python
    files: list[str]


@dataclass(frozen=True)
class ReportRow(Record):
    name: str
    values: list[Any]  # one per column; None where that column has no such fact


@dataclass(frozen=True)
class ReportResult(Record):
    """Limits and ramps of many machines side by side."""

    columns: list[ReportColumn]
    rows: list[ReportRow]
    ramps_short: list[str]  # columns whose ramp did not reach its target
    ok: bool
    schema: str = REPORT_SCHEMA


@dataclass(frozen=True)
class SelectorTiming(Record):
    """One selector watching ``fds`` registered sockets, one of them ready."""

    selector: str
    fds: int
    call_us_median: Optional[float]  # select(timeout=0)
    call_us_p90: Optional[float]
    wait_us_median: Optional[float]  # select(timeout=1.0), returning at once for the ready socket
    wait_us_p90: Optional[float]
    register_us: Optional[float]  # per fd
    unregister_us: Optional[float]  # per fd
    error: Optional[str] = None  # why this selector cannot go here, e.g. "select_limit at fd 1024"


@dataclass(frozen=True)
class SelectorSlope(Record):
    selector: str
    us_per_1000_fds: Optional[float]  # least-squares slope of the timeout-0 median


@dataclass(frozen=True)
class BenchSelectorsResult(Record):
    fds: list[int]
    calls: int
    timings: list[SelectorTiming]
    slopes: list[SelectorSlope]
    platform: PlatformInfo
    notes: list[Note] = field(default_factory=list)
    schema: str = BENCH_SELECTORS_SCHEMA


@dataclass(frozen=True)
class ModelRun(Record):
    """One concurrency model fetching every task once."""

    model: str
    seconds: Optional[float]
    speedup: Optional[float]  # sequential seconds / these seconds
    peak_rss: Optional[int]
    threads: Optional[int]  # OS threads at the busiest moment
    fetched: int
    error: Optional[str] = None


@dataclass(frozen=True)
class BenchModelsResult(Record):
    tasks: int
    delay: float
    ideal_seconds: float  # one delay: every task waiting at once
    runs: list[ModelRun]
    platform: PlatformInfo
    schema: str = BENCH_MODELS_SCHEMA


@dataclass(frozen=True)
class EchoRun(Record):
    """One backend under ``bench echo``'s load."""

    backend: str
    round_trips_per_s: Optional[float]
    mib_per_s: Optional[float]
    p50_ms: Optional[float]
    p90_ms: Optional[float]
    p99_ms: Optional[float]
    p999_ms: Optional[float]
    max_ms: Optional[float]
    server_cpu: Optional[float]  # percent of one core during the run
    server_rss: Optional[int]
    rss_per_connection: Optional[float]  # bytes the server's RSS grew per connection held
    errors: int
    client_cpu: Optional[float]
    client_bound: bool  # the load client used a whole core: the server may serve more
    error: Optional[str] = None  # why this backend has no figures


@dataclass(frozen=True)
class BenchEchoResult(Record):
    clients: int
    size: int
    duration: float
    client: str
    runs: list[EchoRun]
    platform: PlatformInfo
    schema: str = BENCH_ECHO_SCHEMA


@dataclass(frozen=True)
class BenchTransferResult(Record):
    backend: str
    clients: int
    file_size: int
    completed: int  # get and put both done, checksums right
    failed: int
    corrupt: int  # a get whose sha256 did not match, or an upload that differs on disk
    seconds: float
    mib_per_s: Optional[float]
    p50_ms: Optional[float]
    p90_ms: Optional[float]
    p99_ms: Optional[float]
    max_ms: Optional[float]
    errors: list[str]  # distinct failure messages, a few
    platform: PlatformInfo
    schema: str = BENCH_TRANSFER_SCHEMA
