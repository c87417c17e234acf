"""What the kernel and the server say beside the holder: a listen queue once settled, counters, the server's account.

A connection counts as held only while the server has accepted it and not closed it: what
waits in a listener's queue on this machine is read from the kernel, not guessed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple, Optional

from netprobe import platform
from netprobe.errors import ServerGone
from netprobe.platform import ListenState, TcpCounters
from netprobe.servers.handle import ServerHandle
from netprobe.servers.status import ServerStatus
from netprobe.sockets import is_loopback

# How long a listen queue may take to drain before its connections count as never accepted.
QUEUE_GRACE = 1.0
QUEUE_POLL = 0.05


class Unaccepted(NamedTuple):
    """What a server on this machine has not accepted after a step, as its kernel tells it."""

    queued: int  # waiting in its listeners' accept queues, held by the client or not
    dropped: int  # held by the client, with no socket at the server: its kernel dropped the handshake's last ACK
    of_held: int  # how many the client counts as held are among them (queued or dropped)

    @property
    def total(self) -> int:
        """Connections the kernel completed for the client that the server never took in."""
        return self.queued + self.dropped


def settled_unaccepted(addresses: list[tuple[str, int]], endpoints: Optional[list[tuple[str, int]]],
                       answered: bool, timeout: float, wait: Callable[[float], object]) -> Optional[Unaccepted]:
    """What the server has not accepted, once it had what time it needs to accept it.

    Read from this machine's kernel (Linux sock_diag), so only for a server on this machine:
    its listeners' accept queues and, where the holder says which connections it holds
    (``endpoints``), each one's socket at the server: accepted (it has a file), queued, or none at
    all (the server's kernel dropped the handshake's last ACK while the queue was full, and takes
    it in only when the SYN-ACK is sent again). Where the holder cannot say, a connection that
    ``answered`` its check was accepted; one only connected may be any of the queued.

    Settled by evidence: until nothing is left, or nothing was accepted for ``QUEUE_GRACE`` while
    no queue had room (the server stopped accepting), or ``timeout`` passed. None where unknown.
    """
    local = [a for a in addresses if is_loopback(a[0])]
    if not local:
        return None
    started = last_progress = time.monotonic()
    before: Optional[int] = None
    while True:
        states = [state for state in (platform.listener_at(a) for a in local) if state is not None and state.listening]
        if not states:
            return None
        queued = sum(state.queued for state in states)
        found = _match(local, endpoints, queued) or Unaccepted(queued, 0, 0 if answered else queued)
        now = time.monotonic()
        if found.total == 0 or now - started >= timeout:
            return found
        if before is None or found.total < before:
            last_progress = now
        before = found.total
        # A dropped handshake completes when the SYN-ACK is sent again (after 1 s, then 2 s ...):
        # while a queue has room for it, it may still come.
        room = found.dropped and any(state.queued < state.backlog for state in states)
        if not room and now - last_progress >= QUEUE_GRACE:
            return found
        wait(QUEUE_POLL)


def _match(local: list[tuple[str, int]], endpoints: Optional[list[tuple[str, int]]],
           queued: int) -> Optional[Unaccepted]:
    """Each held connection (``endpoints``, its own addresses) against the server's sockets; None if unknown."""
    if endpoints is None:
        return None
    accepted: dict[tuple[str, int], bool] = {}
    for address in local:
        known = platform.established_peers(address)
        if known is None:
            return None
        accepted.update(known)
    dropped = queued_held = 0
    for endpoint in endpoints:
        state = accepted.get(endpoint)
        if state is None:
            dropped += 1
        elif not state:
            queued_held += 1
    return Unaccepted(queued, dropped, dropped + queued_held)


def listener_state(addresses: list[tuple[str, int]]) -> Optional[ListenState]:
    """The first listener of ``addresses`` on this machine, as its kernel tells it; None where unknown.

    A remote target's listener is another kernel's, never read from here.
    """
    local = [a for a in addresses if is_loopback(a[0])]
    return platform.listener_at(local[0]) if local else None


def counter_deltas(before: Optional[TcpCounters],
                   after: Optional[TcpCounters]) -> tuple[Optional[int], Optional[int], Optional[int]]:
    """How much each kernel counter rose over a step; None each where the OS did not say."""
    if before is None or after is None:
        return None, None, None
    return (after.listen_overflows - before.listen_overflows, after.listen_drops - before.listen_drops,
            after.syn_retransmits - before.syn_retransmits)


def time_wait_overflows(before: Optional[TcpCounters], after: Optional[TcpCounters]) -> Optional[int]:
    """How many closes skipped TIME_WAIT between two readings (tcp_max_tw_buckets full); None where unknown."""
    if before is None or after is None or before.time_wait_overflows is None or after.time_wait_overflows is None:
        return None
    return after.time_wait_overflows - before.time_wait_overflows


def add_counts(a: Optional[int], b: Optional[int]) -> Optional[int]:
    """Two counts of one counter added; None where either is unknown."""
    return None if a is None or b is None else a + b


def server_status(server: ServerHandle) -> tuple[Optional[ServerStatus], Optional[str]]:
    """Return (status, why-the-server-is-gone)."""
    try:
        return server.status(), None
    except ServerGone as exc:
        return None, str(exc)
