"""What a server reports about itself, as typed records that cross the child-process pipe as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional

from netprobe.vocabulary import StopReason


@dataclass(frozen=True)
class LimitMet:
    """The first resource limit a server met, with the exact number of connections it held then."""

    reason: StopReason
    errno: Optional[str]
    message: str
    held: int
    at_fd: Optional[int] = None  # the fd number select() refused, where that is what struck

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LimitMet:
        return cls(StopReason(data["reason"]), data.get("errno"), str(data["message"]), int(data["held"]),
                   data.get("at_fd"))


@dataclass(frozen=True)
class ServerStatus:
    """A server's counters at one moment."""

    held: int
    accepted: int
    bytes_in: int
    bytes_out: int
    errors: int
    accept_errors: int
    limit: Optional[LimitMet] = None
    accepting: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServerStatus:
        limit = data.get("limit")
        return cls(
            held=int(data["held"]), accepted=int(data["accepted"]), bytes_in=int(data["bytes_in"]),
            bytes_out=int(data["bytes_out"]), errors=int(data["errors"]),
            accept_errors=int(data["accept_errors"]),
            limit=LimitMet.from_dict(limit) if limit else None,
            accepting=bool(data.get("accepting", True)),
        )
