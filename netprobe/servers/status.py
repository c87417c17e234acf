"""What a server reports about itself, as typed records that cross the child-process pipe as JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from netprobe.records import Record
from netprobe.stops import StopReason


@dataclass(frozen=True)
class LimitMet(Record):
    """The first resource limit a server met, with the exact number of connections it held then."""

    reason: StopReason
    errno: Optional[str]
    message: str
    held: int
    at_fd: Optional[int] = None  # the fd number select() refused, where that is what struck


@dataclass(frozen=True)
class ServerStatus(Record):
    """A server's counters at one moment."""

    held: int
    accepted: int
    bytes_in: int
    bytes_out: int
    errors: int
    accept_errors: int
    limit: Optional[LimitMet] = None
    accepting: bool = True
    resets: int = 0  # connections the client reset or abandoned: the client's doing, not an error


@dataclass(frozen=True)
class ServerReady(Record):
    """A server child's first line: where it listens and its fd budget, or why it could not start."""

    addresses: list[tuple[str, int]] = field(default_factory=list)
    waits_with: Optional[str] = None
    soft: Optional[int] = None  # its soft fd limit now
    raised_from: Optional[int] = None  # what the soft limit was before it raised it
    error: Optional[str] = None
    errno: Optional[str] = None
