"""Name a ramp's stop from what the client saw and what the server said, the server's account first."""

from __future__ import annotations

from typing import NamedTuple, Optional

from netprobe import platform
from netprobe.clients.outcome import BatchOutcome, ClientFailure
from netprobe.clients.watch import Sweep
from netprobe.platform import ListenState
from netprobe.refusals import Refusal, recognise_refusal
from netprobe.servers.status import ServerStatus
from netprobe.stops import NETWORK_STOPS, StopReason
from netprobe.vocabulary import Operation, Side


class Classified(NamedTuple):
    """A stop, named: the reason, the side that met it, the errno's name, and what was seen."""

    reason: StopReason
    side: Side
    errno: Optional[str]
    message: str


def refusal_of(swept: Optional[Sweep], out: Optional[BatchOutcome]) -> Optional[Refusal]:
    """The well-known refusal behind a stop, from what the server said before closing or instead of the echo."""
    said = swept.said if swept is not None else None
    if said is None and out is not None and out.named is not None:
        said = out.named.said  # what the server said to a worker or client process
    if said is None and out is not None and out.failure is not None:
        said = out.failure.message
    return recognise_refusal(said)


class ListenEvidence(NamedTuple):
    """What this machine's kernel says of the target's listener after a step, where it can tell."""

    state: Optional[ListenState] = None  # whether it listens, and its accept queue; None: unknown
    overflows: Optional[int] = None  # the kernel's listen overflows during the step; None: unknown
    #: Connections the client counts open that have no socket at the server at all: a handshake its
    #: kernel dropped while the queue was full (the overflow counter rose), or one it closed just now.
    dropped: int = 0

    def queue_has_room(self) -> bool:
        """Whether the target listens with room in its accept queue now."""
        state = self.state
        return state is not None and state.listening and state.queued < state.backlog

    def has_room(self) -> bool:
        """Whether the target listened with room in its queue and the kernel dropped nothing for a full one."""
        return self.queue_has_room() and not self.overflows

    def describe(self) -> str:
        """The queue in words, for a stop's message: "its accept queue at 0 of 4,096"."""
        state = self.state
        if state is None:
            return "its accept queue could not be read"
        if not state.listening:
            return "nothing listens there now"
        overflowed = f", {self.overflows:,} overflows counted" if self.overflows else ""
        return f"its accept queue at {state.queued:,} of {state.backlog:,}{overflowed}"


UNKNOWN_LISTENER = ListenEvidence()


def classify_stop(out: BatchOutcome, status: Optional[ServerStatus], gone: Optional[str], timeout: float,
                  swept: Optional[Sweep] = None, unaccepted: Optional[int] = None,
                  held: Optional[int] = None, listener: ListenEvidence = UNKNOWN_LISTENER) -> Classified:
    """Name the stop of a batch; ``status`` and ``gone`` are the server's account, where there is one.

    ``swept`` is what the sweep of held connections found, ``unaccepted`` what waits in the server's
    listen queue: a server that closes what it accepted, or stops accepting, says so before any
    timeout or backlog the client then meets. A closing the server explained with a refusal of the
    client's address or credentials (redis's protected mode) is ``access_denied``, not a cap.
    ``listener`` tells a full accept queue from a firewall: handshakes that time out, or resets,
    while the server listens with room are the network's (``syn_dropped``, ``reset_by_network``).
    """
    named = _classify(out, status, gone, timeout, swept, unaccepted, held, listener)
    if named.reason == StopReason.CLOSED_BY_SERVER:
        refusal = refusal_of(swept, out)
        if refusal is not None and refusal.stop != named.reason:
            return named._replace(reason=refusal.stop)
    return named


def _classify(out: BatchOutcome, status: Optional[ServerStatus], gone: Optional[str], timeout: float,
              swept: Optional[Sweep], unaccepted: Optional[int], held: Optional[int],
              listener: ListenEvidence) -> Classified:
    if gone is not None:
        # A child's error arrives as text only: classify the code in it ("[WinError 10055] ...").
        reason = platform.classify_message(gone, Operation.ACCEPT) or StopReason.SERVER_EXITED
        return Classified(reason, Side.SERVER, None, gone)
    limit = status.limit if status is not None else None
    if limit is not None:
        message = limit.message
        if limit.at_fd is not None:
            message += f" (at fd {limit.at_fd})"
        kept = limit.held if held is None else min(limit.held, held)  # what it still held once it shed any
        return Classified(limit.reason, Side.SERVER, limit.errno, f"{message}; it held {kept:,}")
    named = out.named
    if named is not None and named.reason == StopReason.CLOSED_BY_SERVER:
        return Classified(named.reason, named.side, named.errno, named.message)
    if swept is not None and swept.closed:
        saying = f', saying "{swept.said}"' if swept.said else ""
        return Classified(StopReason.CLOSED_BY_SERVER, Side.SERVER, None,
                          f"the server closed {swept.closed:,} connections after accepting them{saying}")
    if unaccepted:
        return _unaccepted(unaccepted, held, listener)
    if named is not None:  # named where the connections are held, in that machine's words
        return Classified(named.reason, named.side, named.errno, named.message)
    if out.failure is not None:
        return _failure(out, out.failure, listener)
    if out.unconnected:
        if listener.has_room():
            return Classified(StopReason.SYN_DROPPED, Side.NETWORK, None,
                              f"{out.unconnected:,} handshakes did not complete within {timeout:g} s while the "
                              f"server listened with room ({listener.describe()}): something on the way dropped "
                              "them")
        return Classified(StopReason.BACKLOG, Side.SERVER, None,
                          f"{out.unconnected:,} handshakes did not complete within {timeout:g} s "
                          f"({listener.describe()}): the accept queue is full")
    if out.unanswered:
        return Classified(StopReason.TIMEOUT, Side.SERVER, None,
                          f"{out.unanswered} connections got no answer within {timeout:g} s")
    return Classified(StopReason.OTHER, Side.SERVER, None, f"{out.peer_closed} connections were closed by the peer")


def _unaccepted(unaccepted: int, held: Optional[int], listener: ListenEvidence) -> Classified:
    """Connections the client holds that the server never accepted: a burst its queue dropped, closes, or a stop."""
    holding = "" if held is None else f"held {held:,}; "
    if unaccepted == listener.dropped and listener.queue_has_room() and listener.overflows != 0:
        return Classified(StopReason.BACKLOG, Side.SERVER, None,
                          f"{holding}{unaccepted:,} more connected on the client's side have no socket at the server: "
                          f"its kernel dropped their handshakes' last ACK while the accept queue was full "
                          f"({listener.describe()} now): the burst overflowed the listen() backlog")
    if unaccepted == listener.dropped and listener.overflows == 0:
        return Classified(StopReason.CLOSED_BY_SERVER, Side.SERVER, None,
                          f"the server holds no socket for {unaccepted:,} connections and its kernel dropped no "
                          "handshake: it closed them after accepting them")
    return Classified(StopReason.STOPPED_ACCEPTING, Side.SERVER, None,
                      f"{holding}{unaccepted:,} more connected on the client's side but never accepted "
                      "(queued at the server, or dropped while its queue stayed full): the server stopped accepting")


def _failure(out: BatchOutcome, f: ClientFailure, listener: ListenEvidence) -> Classified:
    """The first error the client met, named by its operation and errno and what the listener shows."""
    if f.operation == Operation.VERIFY and (recognise_refusal(f.message) is not None or out.peer_closed):
        # Connected, then closed or reset by the server before (or instead of) answering the check.
        return Classified(StopReason.CLOSED_BY_SERVER, Side.SERVER, platform.errno_name(f.errno),
                          f"verify: {f.message}")
    if f.operation == Operation.THREAD:
        return Classified(StopReason.THREAD_LIMIT, Side.CLIENT, None, f"cannot start another thread: {f.message}")
    reason = platform.classify_errno(f.errno, f.operation) or StopReason.OTHER
    if reason == StopReason.REFUSED and f.operation == Operation.CONNECT and listener.has_room():
        return Classified(StopReason.RESET_BY_NETWORK, Side.NETWORK, platform.errno_name(f.errno),
                          f"connect: {f.message}, though the server listens ({listener.describe()}): "
                          "the reset came from something on the way")
    server_side = (StopReason.REFUSED, StopReason.CLOSED_BY_SERVER)
    side = Side.SERVER if f.operation == Operation.VERIFY or reason in server_side else Side.CLIENT
    if reason in NETWORK_STOPS:
        side = Side.NETWORK  # connect() itself was forbidden or rejected on the way
    return Classified(reason, side, platform.errno_name(f.errno), f"{f.operation}: {f.message}")
