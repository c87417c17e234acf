"""What the bench commands and their load processes say to each other: one typed record per message.

Each load process reads its spec as one JSON line on stdin and answers in records on stdout,
checked field by field on arrival like every other record that crosses a process (ramps,
servers, workers): no argv to parse, no dict of unknown shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from netprobe.records import Record


@dataclass(frozen=True)
class EchoLoadSpec(Record):
    """``bench echo``'s load process: how many connections of which client model, and how long to ping-pong."""

    host: str
    port: int
    clients: int
    size: int  # bytes each way per round trip
    duration: float
    model: str  # a registered client model's name


@dataclass(frozen=True)
class EchoLoadReady(Record):
    """Every connection of the echo load is open: the controller samples the server while they are held."""

    connected: int


@dataclass(frozen=True)
class EchoLoadResult(Record):
    """What the echo load measured over its duration; latencies in milliseconds (None without a round trip)."""

    round_trips: int
    seconds: float
    errors: int
    client_cpu: float  # percent of one core
    p50: Optional[float]
    p90: Optional[float]
    p99: Optional[float]
    p999: Optional[float]
    max: Optional[float]


@dataclass(frozen=True)
class TransferLoadSpec(Record):
    """``bench transfer``'s load process: clients that each get ``path`` and put it back."""

    host: str
    port: int
    clients: int
    path: str
    sha256: str  # hex digest the fetched file must have


@dataclass(frozen=True)
class TransferLoadResult(Record):
    """Counts, bytes and per-client latencies (ms) of the get/put load; the first few distinct errors."""

    completed: int
    failed: int
    corrupt: int
    seconds: float
    bytes: int
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ModelsSpec(Record):
    """``bench models``' child: fetch ``url`` ``tasks`` times with one concurrency model."""

    model: str
    url: str
    tasks: int


@dataclass(frozen=True)
class ModelsChildResult(Record):
    """How long one model took, what it fetched, and its busiest moment (threads, RSS)."""

    seconds: float
    fetched: int
    peak_rss: int
    threads: int
