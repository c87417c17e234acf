"""What opening or re-checking a batch of connections achieved, and the first failure met, however held."""

from __future__ import annotations

import os
from array import array
from dataclasses import dataclass, field
from typing import Optional, Union

from netprobe.records import Record
from netprobe.stops import StopReason
from netprobe.vocabulary import Operation, Side


@dataclass(frozen=True)
class HolderFailure(Record):
    """The first failure a holder met, named on the machine where it met it (its errnos and limits are its own).

    A worker sends it with its report; the engine takes it as it is. ``held`` and ``in_flight``
    are what that holder held and was still opening then.
    """

    reason: StopReason
    side: Side
    errno: Optional[str]
    message: str
    held: int
    in_flight: int
    remedy: str
    said: Optional[str] = None  # what the server said before closing one of its connections
    setting: Optional[str] = None  # the server's setting behind a refusal netprobe recognised
    worker: Optional[str] = None  # the worker that met it, in a distributed ramp (set by the master)


@dataclass(frozen=True)
class ClientFailure(Record):
    """The first error a client met: the operation it was doing and the errno (this machine's number)."""

    operation: Operation
    errno: Optional[int]
    message: str


@dataclass
class BatchOutcome:
    """What one call to ``open`` or ``reverify`` achieved."""

    verified: int = 0
    # An array, not a list: a float object per connection would fragment the heap for good.
    latencies_ms: array[float] = field(default_factory=lambda: array("d"))
    failure: Optional[ClientFailure] = None
    unconnected: int = 0  # handshake still pending at the deadline
    unanswered: int = 0  # connected, but the check did not pass by the deadline
    peer_closed: int = 0  # the peer closed or reset the connection
    #: A stop already named where the connections are held (a worker's own machine, whose errno
    #: numbers and limits are its own); the engine takes it as it is.
    named: Optional[HolderFailure] = None

    @property
    def clean(self) -> bool:
        """Whether every connection of the batch passed its check."""
        return (self.failure is None and self.named is None
                and not (self.unconnected or self.unanswered or self.peer_closed))

    def tally(self, failed: Optional[Operation], exc: Optional[BaseException], latency: Optional[float]) -> None:
        """Count one connection's outcome: verified (``failed`` None), timed out, or failed at an operation."""
        if failed is None:
            self.verified += 1
            if latency is not None:
                self.latencies_ms.append(latency)
        elif failed == Operation.TIMEOUT:
            self.unanswered += 1
        else:
            if failed == Operation.VERIFY and isinstance(exc, (ConnectionResetError, ConnectionAbortedError,
                                                                BrokenPipeError)):
                self.peer_closed += 1  # connected, then closed by the server before it answered
            self.fail(failed, exc)

    def fail(self, operation: Operation, exc_or_errno: Union[BaseException, Optional[int]],
             message: Optional[str] = None) -> None:
        """Record the batch's first failure: the operation and its errno; later ones are ignored."""
        if self.failure is not None:
            return
        if isinstance(exc_or_errno, BaseException):
            code = getattr(exc_or_errno, "errno", None)
            text = message or getattr(exc_or_errno, "strerror", None) or str(exc_or_errno)
        else:
            code = exc_or_errno
            text = message or (os.strerror(code) if code else "failed")
        self.failure = ClientFailure(operation, code, text)
