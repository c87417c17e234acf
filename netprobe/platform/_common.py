"""Records and helpers shared by the per-OS modules; checks no OS itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from netprobe.models import Note


@dataclass
class SystemFacts:
    """System-wide limits read from the OS; ``None`` where the OS has no such fact."""

    system_max: Optional[int] = None
    system_in_use: Optional[int] = None
    per_process_max: Optional[int] = None
    somaxconn: Optional[int] = None
    port_low: Optional[int] = None
    port_high: Optional[int] = None
    tcp_tw_reuse: Optional[int] = None
    tcp_fin_timeout: Optional[int] = None
    tcp_max_syn_backlog: Optional[int] = None
    nf_conntrack_max: Optional[int] = None
    notes: list[Note] = field(default_factory=list)

    @property
    def port_count(self) -> Optional[int]:
        if self.port_low is None or self.port_high is None:
            return None
        return self.port_high - self.port_low + 1


# Stop reasons, in the vocabulary of the ramp report.
SELECT_LIMIT = "select_limit"
FD_LIMIT = "fd_limit"
SYSTEM_FD_LIMIT = "system_fd_limit"
PORT_EXHAUSTION = "port_exhaustion"
BACKLOG = "backlog"
REFUSED = "refused"
TIMEOUT = "timeout"
MEMORY = "memory"
SERVER_EXITED = "server_exited"
INTERRUPTED = "interrupted"
OTHER = "other"

STOP_REASONS = (
    SELECT_LIMIT, FD_LIMIT, SYSTEM_FD_LIMIT, PORT_EXHAUSTION, BACKLOG, REFUSED,
    TIMEOUT, MEMORY, SERVER_EXITED, INTERRUPTED, OTHER,
)


def classify_by_name(name: Optional[str], operation: str) -> Optional[str]:
    """Map a POSIX errno name (``"EMFILE"``) met during ``operation`` to a stop reason."""
    if name is None:
        return None
    if name == "EMFILE":
        return FD_LIMIT
    if name == "ENFILE":
        return SYSTEM_FD_LIMIT
    if name == "EADDRNOTAVAIL" or (name == "EADDRINUSE" and operation in ("connect", "bind")):
        return PORT_EXHAUSTION
    if name == "ECONNREFUSED":
        return REFUSED
    if name == "ETIMEDOUT":
        return TIMEOUT
    if name in ("ENOMEM", "ENOBUFS"):
        return MEMORY
    return None


def read_int(text: str, index: int = 0) -> int:
    """Return the ``index``-th whitespace-separated integer of ``text``."""
    return int(text.split()[index])


def generic_remedies(hard: Optional[int]) -> dict[str, str]:
    """Return the remedy for every stop reason, in words true on any OS."""
    hard_text = "unlimited" if hard is None else str(hard)
    return {
        SELECT_LIMIT: "select() cannot watch fd 1024 or above: use --selector poll (or the "
                              "platform's epoll/kqueue, which selectors.DefaultSelector picks)",
        FD_LIMIT: f"raise the soft fd limit: `ulimit -n {hard_text}` in the shell that starts it, "
                          "or resource.setrlimit(RLIMIT_NOFILE, (hard, hard)) at start-up",
        SYSTEM_FD_LIMIT: "the system-wide file table is full: raise it or close other programs",
        PORT_EXHAUSTION: "one source address can reach one destination through the ephemeral range "
                                 "only: widen it, or spread over more server ports (--ports)",
        BACKLOG: "the accept queue overflowed: raise the listen() backlog and somaxconn, accept faster",
        REFUSED: "nothing accepts at that address (or its accept queue overflowed and it resets)",
        TIMEOUT: "the peer did not answer within --timeout: it is stalled or overloaded; "
                         "raise --timeout or look at the server",
        MEMORY: "the kernel ran out of socket buffer memory: free memory or lower buffer sizes",
        SERVER_EXITED: "the server process died: read its exit status and stderr above",
        INTERRUPTED: "run again without interrupting",
        OTHER: "see the message; this stop is not one netprobe recognises",
    }
