"""Records of the `netprobe bench` commands."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from netprobe.models import (
    BENCH_ECHO_SCHEMA,
    BENCH_MODELS_SCHEMA,
    BENCH_SELECTORS_SCHEMA,
    BENCH_TRANSFER_SCHEMA,
    Note,
    PlatformInfo,
    Record,
)


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
    """How one selector's call cost grows with the sockets it watches."""

    selector: str
    us_per_1000_fds: Optional[float]  # least-squares slope of the timeout-0 median


@dataclass(frozen=True)
class BenchSelectorsResult(Record):
    """``bench selectors``: one select() call's cost per selector against the sockets registered."""

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
    """``bench models``: the tutorial's sequential, threads, gevent and asyncio fetches side by side."""

    tasks: int
    delay: float
    ideal_seconds: float  # one delay: every task waiting at once
    runs: list[ModelRun]
    platform: PlatformInfo
    schema: str = BENCH_MODELS_SCHEMA

    @property
    def ok(self) -> bool:
        """Whether every run produced its figures (exit status 0)."""
        return all(r.error is None for r in self.runs)


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
    """``bench echo``: every backend under the same echo load, one run each."""

    clients: int
    size: int
    duration: float
    client: str
    runs: list[EchoRun]
    platform: PlatformInfo
    schema: str = BENCH_ECHO_SCHEMA

    @property
    def ok(self) -> bool:
        """Whether every run produced its figures (exit status 0)."""
        return all(r.error is None for r in self.runs)


@dataclass(frozen=True)
class BenchTransferResult(Record):
    """``bench transfer``: many clients get a file and put it back, checksummed both ways."""

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

    @property
    def ok(self) -> bool:
        """Whether every transfer completed and arrived intact (exit status 0)."""
        return self.failed == 0 and self.corrupt == 0
