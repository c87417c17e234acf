"""Records and helpers shared by the per-OS modules; checks no OS itself."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import NamedTuple, Optional

from netprobe.common_records import Note
from netprobe.platform._parsers import excluded_in_range


class TcpCounters(NamedTuple):
    """The kernel's machine-wide counters of connections it could not take in (Linux TcpExt)."""

    listen_overflows: int  # a handshake completed while the accept queue was full
    listen_drops: int  # SYNs dropped at a listener, overflows included
    syn_retransmits: int  # SYNs and SYN-ACKs sent again because no answer came
    # Connections closed without TIME_WAIT because net.ipv4.tcp_max_tw_buckets were all taken; None where unknown.
    time_wait_overflows: Optional[int] = None


class ListenState(NamedTuple):
    """A listening address as the kernel tells it: whether anything listens, its accept queue and its size."""

    listening: bool
    queued: int = 0  # handshakes the kernel completed that the program has not accepted
    backlog: int = 0  # the most the queue holds


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
    #: Linux: the most connections in TIME_WAIT the kernel keeps; past it a close skips TIME_WAIT.
    tcp_max_tw_buckets: Optional[int] = None
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


def read_int(text: str, index: int = 0) -> int:
    """Return the ``index``-th whitespace-separated integer of ``text``."""
    return int(text.split()[index])


def connect_outcome_by_peek(sock: socket.socket) -> Optional[bool]:
    """Whether a non-blocking connect has finished with its peer still there, asked with two calls every OS has.

    True: connected, and the peer has not closed, or has said something before it did (the
    holder's sweep reads what, and sees the close); False: the peer has closed without a word;
    None: still connecting, failed or reset (the caller waits for writability and reads SO_ERROR).
    """
    try:
        sock.getpeername()
    except OSError:
        return None
    try:
        data = sock.recv(1, socket.MSG_PEEK)
    except (BlockingIOError, InterruptedError):
        return True
    except OSError:
        return None
    return bool(data)
