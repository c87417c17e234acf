"""What a server reports about itself, as typed records that cross the child-process pipe as JSON."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

from netprobe.common_records import SelectorCap
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

    @classmethod
    def total(cls, parts: list[ServerStatus]) -> ServerStatus:
        """The counters of one server made of several processes: summed; the first limit met; accepting if any is.

        The limit's ``held`` is the whole server's, as a ramp compares it with everything it holds.
        """
        held = sum(p.held for p in parts)
        limit = next((p.limit for p in parts if p.limit is not None), None)
        return cls(held=held, accepted=sum(p.accepted for p in parts),
                   bytes_in=sum(p.bytes_in for p in parts), bytes_out=sum(p.bytes_out for p in parts),
                   errors=sum(p.errors for p in parts), accept_errors=sum(p.accept_errors for p in parts),
                   limit=dataclasses.replace(limit, held=held) if limit is not None else None,
                   accepting=any(p.accepting for p in parts), resets=sum(p.resets for p in parts))


@dataclass(frozen=True)
class ServerReady(Record):
    """A server child's first line: where it listens and its fd budget, or why it could not start."""

    addresses: list[tuple[str, int]] = field(default_factory=list)
    waits_with: Optional[str] = None
    watch_cap: Optional[SelectorCap] = None  # a cap of its loop's own (gevent's libev on Windows)
    soft: Optional[int] = None  # its soft fd limit now
    raised_from: Optional[int] = None  # what the soft limit was before it raised it
    error: Optional[str] = None
    errno: Optional[str] = None
