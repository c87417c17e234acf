"""What the kernel and the server say beside the holder: a listen queue once settled, counters, the server's account.

A connection counts as held only while the server has accepted it and not closed it: what
waits in a listener's queue on this machine is read from the kernel, not guessed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Optional

from netprobe import platform
from netprobe.errors import ServerGone
from netprobe.platform import TcpCounters
from netprobe.servers.handle import ServerHandle
from netprobe.servers.status import ServerStatus
from netprobe.sockets import is_loopback

# How long a listen queue may take to drain before its connections count as never accepted.
QUEUE_GRACE = 1.0
QUEUE_POLL = 0.05


def settled_queue(addresses: list[tuple[str, int]], timeout: float, wait: Callable[[float], object]) -> Optional[int]:
    """What is still queued at the listeners of ``addresses`` once a busy server had ``QUEUE_GRACE`` to drain it.

    Only listeners on this machine can be asked, and only where the kernel tells (Linux sock_diag);
    None where it cannot be known. ``wait`` lets time pass (an inline server or gevent keeps working).
    """
    local = [a for a in addresses if is_loopback(a[0])]
    if not local:
        return None
    deadline = time.monotonic() + min(timeout, QUEUE_GRACE)
    while True:
        known = [q for q in (platform.listen_queue(a) for a in local) if q is not None]
        if not known:
            return None
        queued = sum(known)
        if queued == 0 or time.monotonic() >= deadline:
            return queued
        wait(QUEUE_POLL)


def counter_deltas(before: Optional[TcpCounters],
                   after: Optional[TcpCounters]) -> tuple[Optional[int], Optional[int], Optional[int]]:
    """How much each kernel counter rose over a step; None each where the OS did not say."""
    if before is None or after is None:
        return None, None, None
    return (after.listen_overflows - before.listen_overflows, after.listen_drops - before.listen_drops,
            after.syn_retransmits - before.syn_retransmits)


def server_status(server: ServerHandle) -> tuple[Optional[ServerStatus], Optional[str]]:
    """Return (status, why-the-server-is-gone)."""
    try:
        return server.status(), None
    except ServerGone as exc:
        return None, str(exc)
