"""Records and helpers shared by the per-OS modules; checks no OS itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from netprobe.errors import NetprobeError
from netprobe.models import Note
from netprobe.platform._parsers import excluded_in_range
from netprobe.vocabulary import Operation, StopReason


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
    #: Linux: the most threads the system runs (kernel.threads-max), and memory maps one process may
    #: have (vm.max_map_count; every thread's stack takes two: the stack and its guard page).
    threads_max: Optional[int] = None
    max_map_count: Optional[int] = None
    #: Windows: port ranges reserved by Hyper-V, WSL2, Docker or WinNAT (netsh excludedportrange).
    excluded_ports: Optional[list[tuple[int, int]]] = None
    #: macOS: (soft, hard) maxfiles of what launchd starts; None in either place means unlimited.
    launchd_maxfiles: tuple[Optional[int], Optional[int]] = (None, None)
    notes: list[Note] = field(default_factory=list)

    @property
    def excluded_in_range(self) -> Optional[int]:
        """Ports of the ephemeral range that excluded ranges take (Windows), or None where none are known."""
        if self.excluded_ports is None or self.port_low is None or self.port_high is None:
            return None
        return excluded_in_range(self.port_low, self.port_high, self.excluded_ports)

    @property
    def port_count(self) -> Optional[int]:
        """Ephemeral ports connect() can use: the range, less what excluded ranges take inside it."""
        if self.port_low is None or self.port_high is None:
            return None
        return self.port_high - self.port_low + 1 - (self.excluded_in_range or 0)


class PlatformError(NetprobeError):
    """This platform cannot do what was asked; the message names no command-line option."""


class Unsupported(PlatformError):
    """The platform lacks the feature altogether (RLIMIT_NOFILE on Windows)."""


class AboveHardLimit(PlatformError):
    """A soft fd limit above the hard one was asked for."""

    def __init__(self, wanted: int, hard: int) -> None:
        super().__init__(f"{wanted} is above the hard fd limit {hard}")
        self.wanted = wanted
        self.hard = hard


def classify_by_name(name: Optional[str], operation: str) -> Optional[StopReason]:
    """Map a POSIX errno name (``"EMFILE"``) met during ``operation`` to a stop reason."""
    if name is None:
        return None
    if name == "EMFILE":
        return StopReason.FD_LIMIT
    if name == "ENFILE":
        return StopReason.SYSTEM_FD_LIMIT
    if name == "EADDRNOTAVAIL" or (name == "EADDRINUSE" and operation in (Operation.CONNECT, Operation.BIND)):
        return StopReason.PORT_EXHAUSTION
    if name == "ECONNREFUSED":
        return StopReason.REFUSED
    if name == "ETIMEDOUT":
        return StopReason.TIMEOUT
    if name in ("ENOMEM", "ENOBUFS"):
        return StopReason.MEMORY
    return None


def read_int(text: str, index: int = 0) -> int:
    """Return the ``index``-th whitespace-separated integer of ``text``."""
    return int(text.split()[index])


def generic_remedies(hard: Optional[int]) -> dict[StopReason, str]:
    """Return the remedy for every stop reason, in words true on any OS."""
    hard_text = "unlimited" if hard is None else str(hard)
    return {
        StopReason.SELECT_LIMIT: "select() cannot watch fd 1024 or above: use --selector poll (or the "
                              "platform's epoll/kqueue, which selectors.DefaultSelector picks)",
        StopReason.FD_LIMIT: f"raise the soft fd limit: `ulimit -n {hard_text}` in the shell that starts it, "
                          "or resource.setrlimit(RLIMIT_NOFILE, (hard, hard)) at start-up",
        StopReason.SYSTEM_FD_LIMIT: "the system-wide file table is full: raise it or close other programs",
        StopReason.PORT_EXHAUSTION: "one source address can reach one destination through the ephemeral range "
                                 "only: widen it, or spread over more server ports (--ports)",
        StopReason.BACKLOG: "the accept queue overflowed: raise the listen() backlog and somaxconn, accept faster",
        StopReason.REFUSED: "nothing accepts at that address (or its accept queue overflowed and it resets)",
        StopReason.TIMEOUT: "the peer did not answer within --timeout: it is stalled or overloaded; "
                         "raise --timeout or look at the server",
        StopReason.MEMORY: "the kernel ran out of socket buffer memory: free memory or lower buffer sizes",
        StopReason.THREAD_LIMIT: "the process cannot start another thread (memory for its stack, or a "
                                 "limit on threads): use an event-loop backend, or raise the thread limits",
        StopReason.SERVER_EXITED: "the server process died: read its exit status and stderr above",
        StopReason.WORKER_LOST: "a worker stopped answering (killed, or its network went away): look at that "
                                "machine, then run again; netprobe does not move its share onto the others",
        StopReason.INTERRUPTED: "run again without interrupting",
        StopReason.OTHER: "see the message; this stop is not one netprobe recognises",
    }
