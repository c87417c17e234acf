"""Name a ramp's stop from what the client saw and what the server said, the server's account first."""

from __future__ import annotations

from typing import NamedTuple, Optional

from netprobe import platform
from netprobe.clients.base import BatchOutcome
from netprobe.servers.status import ServerStatus
from netprobe.stops import StopReason
from netprobe.vocabulary import Operation, Side


class Classified(NamedTuple):
    """A stop, named: the reason, the side that met it, the errno's name, and what was seen."""

    reason: StopReason
    side: Side
    errno: Optional[str]
    message: str


def classify_stop(out: BatchOutcome, status: Optional[ServerStatus], gone: Optional[str],
                  timeout: float) -> Classified:
    """Name the stop of a batch; ``status`` and ``gone`` are the server's account, where there is one."""
    if gone is not None:
        # A child's error arrives as text only: classify the code in it ("[WinError 10055] ...").
        reason = platform.classify_message(gone, Operation.ACCEPT) or StopReason.SERVER_EXITED
        return Classified(reason, Side.SERVER, None, gone)
    limit = status.limit if status is not None else None
    if limit is not None:
        message = limit.message
        if limit.at_fd is not None:
            message += f" (at fd {limit.at_fd})"
        return Classified(limit.reason, Side.SERVER, limit.errno, f"{message}; it held {limit.held:,}")
    f = out.failure
    if f is not None:
        if f.operation == Operation.THREAD:
            return Classified(StopReason.THREAD_LIMIT, Side.CLIENT, None, f"cannot start another thread: {f.message}")
        reason = platform.classify_errno(f.errno, f.operation) or StopReason.OTHER
        side = Side.SERVER if f.operation == Operation.VERIFY or reason == StopReason.REFUSED else Side.CLIENT
        return Classified(reason, side, platform.errno_name(f.errno), f"{f.operation}: {f.message}")
    if out.unconnected:
        return Classified(StopReason.BACKLOG, Side.SERVER, None,
                          f"{out.unconnected} handshakes did not complete within {timeout:g} s: "
                          "the accept queue is full")
    if out.unanswered:
        return Classified(StopReason.TIMEOUT, Side.SERVER, None,
                          f"{out.unanswered} connections got no answer within {timeout:g} s")
    return Classified(StopReason.OTHER, Side.SERVER, None, f"{out.peer_closed} connections were closed by the peer")
