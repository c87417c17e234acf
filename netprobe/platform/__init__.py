"""The one place that asks which OS netprobe runs on; everything else calls these functions.

One private module per OS (``_linux``, ``_darwin``, ``_windows``; ``_posix`` for other
POSIX systems) provides the same functions; the OS is decided here, once, at import.
"""

from __future__ import annotations

import sys

from netprobe import stops
from netprobe.errors import AboveHardLimit, PlatformError, Unsupported
from netprobe.platform._common import ListenState, SystemFacts, TcpCounters
from netprobe.stops import StopReason

if sys.platform.startswith("linux"):
    from netprobe.platform import _linux as _impl

    NAME = "linux"
elif sys.platform == "darwin":
    from netprobe.platform import _darwin as _impl

    NAME = "darwin"
elif sys.platform == "win32":
    from netprobe.platform import _windows as _impl

    NAME = "windows"
else:
    from netprobe.platform import _posix as _impl

    NAME = "posix"

# The platform contract: every OS module defines each of these with the same signature
# (tests/unit/test_platform_contract.py checks it).
CONTRACT = (
    "fd_limits", "check_soft_fd_limit", "set_soft_fd_limit", "raise_soft_fd_limit", "presize_fd_table",
    "linger_zero", "move_fd_above", "allow_rebind", "read_system_facts", "probe_select_cap", "process_fds",
    "errno_name", "classify_errno", "classify_named_errno", "classify_message", "kernel_tcp_stats",
    "can_bind_loopback_aliases", "fd_ceiling", "tcp_counters", "listener_at", "established_peers",
    "oom_kill_message", "why_not_private", "share_port", "kernel_slab_bytes", "compatibility_layer",
    "peer_left_before_accept", "cpu_demand", "cpu_stalled", "time_wait_toward", "time_wait_at",
    "retransmits_toward", "connect_outcome",
)
# Functions of this module itself, the same on every OS: they read the OS's NAME, not its module.
SHARED = ("remedy",)
__all__ = ["NAME", "HAS_RLIMIT", "READS_LISTEN_QUEUE", "TIME_WAIT_SECONDS", "SELECT_COUNTS_SOCKETS", "SHARES_PORT",
           "TcpCounters", "ListenState", *SHARED,
           "AboveHardLimit", "PlatformError", "SystemFacts",
           "Unsupported", *CONTRACT]

HAS_RLIMIT: bool = _impl.HAS_RLIMIT
READS_LISTEN_QUEUE: bool = _impl.READS_LISTEN_QUEUE
#: How long a connection closed first on this side stays in TIME_WAIT, holding its port (None: unknown).
TIME_WAIT_SECONDS: float | None = _impl.TIME_WAIT_SECONDS
#: Whether select() is capped by a count of sockets (Windows) rather than by fd number (POSIX).
SELECT_COUNTS_SOCKETS: bool = _impl.SELECT_COUNTS_SOCKETS
#: Whether the kernel spreads one port's connections over several processes' listeners.
SHARES_PORT: bool = _impl.SHARES_PORT
fd_limits = _impl.fd_limits
check_soft_fd_limit = _impl.check_soft_fd_limit
set_soft_fd_limit = _impl.set_soft_fd_limit
raise_soft_fd_limit = _impl.raise_soft_fd_limit
presize_fd_table = _impl.presize_fd_table
linger_zero = _impl.linger_zero
move_fd_above = _impl.move_fd_above
allow_rebind = _impl.allow_rebind
read_system_facts = _impl.read_system_facts
probe_select_cap = _impl.probe_select_cap
process_fds = _impl.process_fds
errno_name = _impl.errno_name
classify_errno = _impl.classify_errno
classify_named_errno = _impl.classify_named_errno
classify_message = _impl.classify_message
fd_ceiling = _impl.fd_ceiling
kernel_tcp_stats = _impl.kernel_tcp_stats
can_bind_loopback_aliases = _impl.can_bind_loopback_aliases
tcp_counters = _impl.tcp_counters
listener_at = _impl.listener_at
established_peers = _impl.established_peers
oom_kill_message = _impl.oom_kill_message
why_not_private = _impl.why_not_private
share_port = _impl.share_port
kernel_slab_bytes = _impl.kernel_slab_bytes
compatibility_layer = _impl.compatibility_layer
cpu_demand = _impl.cpu_demand
cpu_stalled = _impl.cpu_stalled
peer_left_before_accept = _impl.peer_left_before_accept
time_wait_toward = _impl.time_wait_toward
time_wait_at = _impl.time_wait_at
retransmits_toward = _impl.retransmits_toward
connect_outcome = _impl.connect_outcome


def remedy(reason: StopReason, side: str, hard: int | None, soft: int | None = None,
           chooses_selector: bool = True) -> str:
    """How to get past ``reason`` on this OS (the stop records in ``netprobe.stops`` hold the words)."""
    return stops.remedy(reason, NAME, side, hard, soft, chooses_selector)
