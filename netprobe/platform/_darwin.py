"""macOS: limits come from sysctl; kqueue is the default selector; launchd sets a soft fd limit of 256.

Sources: xnu bsd/sys/errno.h for the errno numbers below, sysctl(8), launchctl(1).
"""

from __future__ import annotations

import subprocess
from typing import Optional

from netprobe.common_records import Note
from netprobe.platform import _common, _posix
from netprobe.platform._parsers import parse_launchctl_limit, parse_sysctl
from netprobe.platform._posix import (  # re-exported as this platform's API
    HAS_RLIMIT as HAS_RLIMIT,
)
from netprobe.platform._posix import (
    SELECT_COUNTS_SOCKETS as SELECT_COUNTS_SOCKETS,
)
from netprobe.platform._posix import (
    SHARES_PORT as SHARES_PORT,
)
from netprobe.platform._posix import (
    allow_rebind as allow_rebind,
)
from netprobe.platform._posix import (
    check_soft_fd_limit as check_soft_fd_limit,
)
from netprobe.platform._posix import (
    classify_message as classify_message,
)
from netprobe.platform._posix import (
    compatibility_layer as compatibility_layer,
)
from netprobe.platform._posix import (
    connect_outcome as connect_outcome,
)
from netprobe.platform._posix import (
    cpu_demand as cpu_demand,
)
from netprobe.platform._posix import (
    cpu_stalled as cpu_stalled,
)
from netprobe.platform._posix import (
    fd_limits as fd_limits,
)
from netprobe.platform._posix import (
    kernel_slab_bytes as kernel_slab_bytes,
)
from netprobe.platform._posix import (
    linger_zero as linger_zero,
)
from netprobe.platform._posix import (
    move_fd_above as move_fd_above,
)
from netprobe.platform._posix import (
    peer_left_before_accept as peer_left_before_accept,
)
from netprobe.platform._posix import (
    presize_fd_table as presize_fd_table,
)
from netprobe.platform._posix import (
    probe_select_cap as probe_select_cap,
)
from netprobe.platform._posix import (
    process_fds as process_fds,
)
from netprobe.platform._posix import (
    set_soft_fd_limit as set_soft_fd_limit,
)
from netprobe.platform._posix import (
    share_port as share_port,
)
from netprobe.platform._posix import (
    why_not_private as why_not_private,
)
from netprobe.stops import StopReason, classify_errno_name

# The errno numbers of xnu (bsd/sys/errno.h), so that macOS results classify the same on any OS.
DARWIN_ERRNO = {
    12: "ENOMEM", 23: "ENFILE", 24: "EMFILE", 35: "EAGAIN", 36: "EINPROGRESS",
    48: "EADDRINUSE", 49: "EADDRNOTAVAIL", 54: "ECONNRESET", 55: "ENOBUFS",
    60: "ETIMEDOUT", 61: "ECONNREFUSED",
}

# sysctl name -> SystemFacts field
SYSCTLS = {
    "kern.maxfiles": "system_max",
    "kern.num_files": "system_in_use",
    "kern.maxfilesperproc": "per_process_max",
    "kern.ipc.somaxconn": "somaxconn",
    "net.inet.ip.portrange.first": "port_low",
    "net.inet.ip.portrange.last": "port_high",
}

LAUNCHD_DEFAULT_SOFT_LIMIT = 256


def facts_from_sysctl(values: dict[str, int]) -> _common.SystemFacts:
    """Build SystemFacts from parsed sysctl values, noting every one that is missing."""
    facts = _common.SystemFacts()
    for name, attr in SYSCTLS.items():
        if name in values:
            setattr(facts, attr, values[name])
        else:
            facts.notes.append(Note(attr, f"sysctl {name} gave no value"))
    return facts


def _run(command: list[str]) -> Optional[str]:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=5, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def read_system_facts() -> _common.SystemFacts:
    """Run ``sysctl`` once for every name and ``launchctl limit maxfiles``, and parse what they print."""
    out = _run(["sysctl", *SYSCTLS])
    if out is None:
        facts = _common.SystemFacts()
        facts.notes.append(Note("system_max", "cannot run sysctl"))
    else:
        facts = facts_from_sysctl(parse_sysctl(out))
    launchd = _run(["launchctl", "limit", "maxfiles"])
    facts.launchd_maxfiles = parse_launchctl_limit(launchd) if launchd else (None, None)
    if launchd is None:
        facts.notes.append(Note("launchd_maxfiles", "cannot run launchctl"))
    return facts


def fd_ceiling() -> tuple[Optional[int], str]:
    """The highest soft fd limit this process may set, and what binds it.

    macOS reports the hard RLIMIT_NOFILE as unlimited yet refuses a soft limit above
    kern.maxfilesperproc: the lower of the two binds.
    """
    _, hard, _ = _posix.fd_limits()
    out = _run(["sysctl", "kern.maxfilesperproc"])  # the one fact needed: no launchctl, no other sysctl
    per_process = parse_sysctl(out).get("kern.maxfilesperproc") if out else None
    if per_process is not None and (hard is None or per_process < hard):
        return per_process, "kern.maxfilesperproc"
    return hard, "the hard RLIMIT_NOFILE"


def raise_soft_fd_limit(wanted: int) -> Optional[int]:
    """Raise the soft fd limit toward ``wanted``, up to ``fd_ceiling()``."""
    ceiling, _ = fd_ceiling()
    return _posix.raise_soft_fd_limit_below(wanted, ceiling)


def errno_name(code: Optional[int]) -> Optional[str]:
    """Return the symbolic name of ``code`` (``"EMFILE"``), or None."""
    if code is None:
        return None
    return DARWIN_ERRNO.get(code, str(code))


def classify_errno(code: Optional[int], operation: str) -> Optional[StopReason]:
    """Map an xnu errno met during ``operation`` to a stop reason."""
    return classify_errno_name(errno_name(code), operation)


def classify_named_errno(name: Optional[str], operation: str) -> Optional[StopReason]:
    """Map the name of an xnu errno met during ``operation`` (as ``errno_name`` gives it) to a stop reason."""
    return classify_errno_name(name, operation)


def kernel_tcp_stats() -> tuple[Optional[int], Optional[int]]:
    """macOS publishes no socket counters netprobe reads: (None, None)."""
    return None, None


def can_bind_loopback_aliases() -> bool:
    """macOS answers only 127.0.0.1 on lo0 until aliases are added with ifconfig."""
    return False


def tcp_counters() -> Optional[_common.TcpCounters]:
    """macOS publishes no listen-overflow counters netprobe reads: None (unknown)."""
    return None


# Whether listener_at() can answer on this OS (a listener's accept queue from the kernel).
READS_LISTEN_QUEUE = False
# macOS holds TIME_WAIT for twice net.inet.tcp.msl, 2 x 15 s by default.
TIME_WAIT_SECONDS: Optional[float] = 30.0


def listener_at(address: tuple[str, int]) -> Optional[_common.ListenState]:
    """macOS does not tell netprobe whether an address listens or its accept queue: None (unknown)."""
    return None


def established_peers(address: tuple[str, int]) -> Optional[dict[tuple[str, int], bool]]:
    """macOS does not tell netprobe which connections a server holds: None (unknown)."""
    return None


def time_wait_toward(address: tuple[str, int]) -> Optional[int]:
    """macOS does not tell netprobe its connections in TIME_WAIT: None (unknown)."""
    return None


def time_wait_at(address: tuple[str, int]) -> Optional[int]:
    """macOS does not tell netprobe a local server's connections in TIME_WAIT: None (unknown)."""
    return None


def retransmits_toward(address: tuple[str, int]) -> Optional[int]:
    """macOS does not tell netprobe its connections' retransmissions: None (unknown)."""
    return None


def oom_kill_message(pid: int) -> Optional[str]:
    """macOS keeps no kernel log netprobe reads for an out-of-memory kill: None (unknown)."""
    return None
