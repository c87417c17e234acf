"""Typed result records of every command; each has ``to_dict()`` for JSON.

Every field exists on every platform: a fact a platform cannot provide is
``None`` and the report's ``notes`` say why, so the JSON shape never varies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from netprobe.common_records import Note, PlatformInfo, SelectorCap
from netprobe.records import Record

LIMITS_SCHEMA = "netprobe.limits/1"
RAMP_SCHEMA = "netprobe.ramp/1"
CEILINGS_SCHEMA = "netprobe.ceilings/1"
REPORT_SCHEMA = "netprobe.report/1"
BENCH_SELECTORS_SCHEMA = "netprobe.bench.selectors/1"
BENCH_MODELS_SCHEMA = "netprobe.bench.models/1"
BENCH_ECHO_SCHEMA = "netprobe.bench.echo/1"
BENCH_TRANSFER_SCHEMA = "netprobe.bench.transfer/1"


@dataclass(frozen=True)
class SelectorsInfo(Record):
    """The selectors this Python offers, the one DefaultSelector picks, and what caps each."""

    default: str
    available: list[str]
    caps: dict[str, SelectorCap]
    why_default: str

@dataclass(frozen=True)
class FdLimits(Record):
    """File descriptor limits of this process and of the system; None where the OS has no such limit."""

    soft: Optional[int]
    hard: Optional[int]
    system_max: Optional[int]
    system_in_use: Optional[int]
    per_process_max: Optional[int]
    launchd_soft: Optional[int] = None  # macOS: `launchctl limit maxfiles` for what launchd starts
    launchd_hard: Optional[int] = None

@dataclass(frozen=True)
class PortRange(Record):
    """The ephemeral port range connect() draws from, less the ports excluded inside it."""

    low: Optional[int]
    high: Optional[int]
    count: Optional[int]  # usable: the range less the excluded ports inside it
    excluded: Optional[list[tuple[int, int]]] = None  # Windows: netsh excludedportrange
    excluded_in_range: Optional[int] = None

@dataclass(frozen=True)
class MachineLimits(Record):
    """What every process of the machine shares, and the most loopback connections it can hold in all."""

    hard_fds_per_process: Optional[int]  # each process's hard RLIMIT_NOFILE: how many processes a count needs
    nr_open: Optional[int]  # the most any process's limit can be raised to (fs.nr_open)
    file_max: Optional[int]  # the system's file table (fs.file-max)
    files_in_use: Optional[int]
    memory_available: Optional[int]
    kernel_bytes_per_connection: Optional[int]  # kernel memory of one loopback connection, both ends, measured
    kernel_bytes_how: str  # how it was measured (and cached), or why it is unknown
    ports_per_source: Optional[int]  # ephemeral ports per (source address, destination)
    loopback_sources: Optional[int]  # source addresses loopback offers without configuration
    ceiling: Optional[int]  # loopback connections (both ends here) the machine can hold
    binding: Optional[str]  # the stop reason of the limit that binds first
    processes_needed: Optional[int]  # processes (clients and servers) to hold the ceiling, each at its hard limit
    detail: str


@dataclass(frozen=True)
class NetworkLimits(Record):
    """The kernel's network limits that bound how many connections can be opened and queued."""

    somaxconn: Optional[int]
    ephemeral_ports: PortRange
    tcp_tw_reuse: Optional[int]
    tcp_fin_timeout: Optional[int]
    tcp_max_syn_backlog: Optional[int]
    nf_conntrack_max: Optional[int]
    tcp_max_tw_buckets: Optional[int] = None  # Linux: past this many in TIME_WAIT, a close skips it

@dataclass(frozen=True)
class ProcessStats(Record):
    """This process at one moment: fds (handles on Windows), RSS, threads and CPU time."""

    pid: int
    fds: Optional[int]  # file descriptors on POSIX, handles on Windows
    rss: Optional[int]
    threads: Optional[int]
    cpu_seconds: Optional[float]

@dataclass(frozen=True)
class MemoryStats(Record):
    """The machine's memory, total and available."""

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
    backend: Optional[str] = None  # the server backend predicted for; None in `limits` (any backend)

@dataclass(frozen=True)
class LimitsReport(Record):
    """What ``netprobe limits`` reports: every limit it could read and the ceiling each selector predicts."""

    summary: str  # the binding limit of the default selector, in one sentence
    platform: PlatformInfo
    selectors: SelectorsInfo
    fds: FdLimits
    network: NetworkLimits
    process: ProcessStats
    memory: MemoryStats
    predicted: list[Prediction]
    notes: list[Note]
    machine: Optional[MachineLimits] = None  # what the whole machine holds, beside one process
    schema: str = LIMITS_SCHEMA


if TYPE_CHECKING:  # what __getattr__ below hands out, for type checkers
    from netprobe.models.bench import (
        BenchEchoResult,
        BenchModelsResult,
        BenchSelectorsResult,
        BenchTransferResult,
        EchoRun,
        ModelRun,
        SelectorSlope,
        SelectorTiming,
    )
    from netprobe.models.ramp import (
        CeilingRow,
        CeilingsResult,
        Peak,
        RampResult,
        RampStep,
        StopInfo,
        WorkerFailure,
        WorkerSummary,
    )
    from netprobe.models.report import RampTrace, ReportColumn, ReportResult, ReportRow

__all__ = [
    "BENCH_ECHO_SCHEMA",
    "BENCH_MODELS_SCHEMA",
    "BENCH_SELECTORS_SCHEMA",
    "BENCH_TRANSFER_SCHEMA",
    "BenchEchoResult",
    "BenchModelsResult",
    "BenchSelectorsResult",
    "BenchTransferResult",
    "CEILINGS_SCHEMA",
    "CeilingRow",
    "CeilingsResult",
    "EchoRun",
    "FdLimits",
    "LIMITS_SCHEMA",
    "LimitsReport",
    "MachineLimits",
    "MemoryStats",
    "ModelRun",
    "NetworkLimits",
    "Note",
    "Peak",
    "PlatformInfo",
    "PortRange",
    "Prediction",
    "ProcessStats",
    "RAMP_SCHEMA",
    "REPORT_SCHEMA",
    "RampResult",
    "RampStep",
    "RampTrace",
    "Record",
    "ReportColumn",
    "ReportResult",
    "ReportRow",
    "SelectorCap",
    "SelectorSlope",
    "SelectorTiming",
    "SelectorsInfo",
    "StopInfo",
    "WorkerFailure",
    "WorkerSummary",
]

# Records of the other commands live in submodules, imported on first use: creating a
# dataclass costs ~1 ms, and `netprobe limits` must start fast.
_LAZY = {
    "RampStep": "ramp",
    "StopInfo": "ramp",
    "Peak": "ramp",
    "RampResult": "ramp",
    "CeilingRow": "ramp",
    "CeilingsResult": "ramp",
    "WorkerFailure": "ramp",
    "WorkerSummary": "ramp",
    "RampTrace": "report",
    "ReportColumn": "report",
    "ReportRow": "report",
    "ReportResult": "report",
    "SelectorTiming": "bench",
    "SelectorSlope": "bench",
    "BenchSelectorsResult": "bench",
    "ModelRun": "bench",
    "BenchModelsResult": "bench",
    "EchoRun": "bench",
    "BenchEchoResult": "bench",
    "BenchTransferResult": "bench",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"netprobe.models.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'netprobe.models' has no attribute {name!r}")
