"""Windows: no RLIMIT_NOFILE, handles instead of fds, select() capped by a count, WSA error codes.

Sources: winerror.h / Winsock error codes (WSAEMFILE 10024 ...), CPython Modules/selectmodule.c
(FD_SETSIZE 512 and "too many file descriptors in select()"), ``netsh int ipv4 show dynamicport``.
Importable on any OS so its parsers and tables are tested everywhere.
"""

from __future__ import annotations

import select
import socket
import struct
import subprocess
from typing import TYPE_CHECKING, Optional

from netprobe.common_records import Note, SelectorCap
from netprobe.errors import Unsupported
from netprobe.platform import _common
from netprobe.platform._parsers import errno_from_message, parse_dynamicport, parse_excludedportrange
from netprobe.stops import StopReason, classify_errno_name
from netprobe.vocabulary import Operation

if TYPE_CHECKING:
    import psutil

HAS_RLIMIT = False
#: Winsock's fd_set is an array of sockets: select() is capped by how many, whatever their handles.
SELECT_COUNTS_SOCKETS = True


def why_not_private(fd: int) -> Optional[str]:
    """None: Windows keeps a user's files private by their ACL, which is not read here."""
    return None

# Winsock codes (WSABASEERR 10000 + BSD number) and the C runtime's, named like their POSIX twins.
WSA_ERRNO = {
    10013: "WSAEACCES",  # at connect: a firewall or an excluded port forbade it
    10024: "WSAEMFILE",
    10035: "WSAEWOULDBLOCK",
    10048: "WSAEADDRINUSE",
    10049: "WSAEADDRNOTAVAIL",
    10054: "WSAECONNRESET",
    10055: "WSAENOBUFS",
    10060: "WSAETIMEDOUT",
    10061: "WSAECONNREFUSED",
    24: "EMFILE",
    12: "ENOMEM",
}

_NETSH_DYNAMIC = ("int", "ipv4", "show", "dynamicport", "tcp")
_NETSH_EXCLUDED = ("int", "ipv4", "show", "excludedportrange", "protocol=tcp")
_COUNT_PROBE_CEILING = 1 << 16


def fd_limits() -> tuple[Optional[int], Optional[int], Optional[str]]:
    """Windows has no RLIMIT_NOFILE: (None, None, a note saying so)."""
    return None, None, "Windows has no RLIMIT_NOFILE: sockets are kernel handles bounded by memory"


def check_soft_fd_limit(soft: int) -> None:
    """Windows has no soft fd limit to set."""
    raise Unsupported("Windows has no RLIMIT_NOFILE to set")


def set_soft_fd_limit(soft: int) -> None:
    """Windows has no soft fd limit to set."""
    check_soft_fd_limit(soft)


def raise_soft_fd_limit(wanted: int) -> Optional[int]:
    """Windows has no soft limit to raise."""
    return None


SHARES_PORT = False


def share_port(sock: socket.socket) -> None:
    """Processes of one server sharing a port (socket.share) are not built for Windows yet."""
    raise Unsupported("a server of several processes on one port needs Linux's SO_REUSEPORT; "
                      "Windows' socket.share is not used by netprobe yet")


def allow_rebind(sock: socket.socket) -> None:
    """Nothing to do: on Windows SO_REUSEADDR would let a second server take the same port."""


def linger_zero() -> bytes:
    """SO_LINGER {on, 0 seconds}: Winsock's struct linger holds two u_shorts."""
    return struct.pack("HH", 1, 0)


def move_fd_above(fd: int, floor: int) -> int:
    """Windows select() counts sockets, whatever their handle values: nothing to move."""
    return fd


def presize_fd_table(count: int) -> None:
    """Windows hands out socket handles from no per-process table to grow."""


def errno_name(code: Optional[int]) -> Optional[str]:
    """Return the Winsock or CRT name of ``code`` (``"WSAEMFILE"``), or None."""
    if code is None:
        return None
    return WSA_ERRNO.get(code, str(code))


def classify_errno(code: Optional[int], operation: str) -> Optional[StopReason]:
    """Map a Winsock or CRT error met during ``operation`` to a stop reason.

    At connect, WSAENOBUFS and WSAEADDRINUSE mean no ephemeral port was left.
    """
    return classify_named_errno(errno_name(code), operation)


def classify_named_errno(name: Optional[str], operation: str) -> Optional[StopReason]:
    """Map the name of a Winsock or CRT error met during ``operation`` (as ``errno_name`` gives it) to a stop reason."""
    if name is None:
        return None
    if operation == Operation.CONNECT and name in ("WSAENOBUFS", "WSAEADDRINUSE"):
        return StopReason.PORT_EXHAUSTION
    return classify_errno_name(name.removeprefix("WSA"), operation)


def facts_from_netsh(text: str, excluded_text: Optional[str] = None) -> _common.SystemFacts:
    """Build SystemFacts from netsh's dynamic port range and excluded ranges (Hyper-V, WSL2, Docker, WinNAT).

    Windows has no counterpart for the other facts.
    """
    facts = _common.SystemFacts()
    start, count = parse_dynamicport(text)
    if start is None or count is None:
        facts.notes.append(Note("port_low", "netsh printed no dynamic port range"))
    else:
        facts.port_low, facts.port_high = start, start + count - 1
    if excluded_text is None:
        facts.notes.append(Note("excluded_ports", "netsh printed no excluded port ranges"))
    else:
        facts.excluded_ports = parse_excludedportrange(excluded_text)
    for name in ("system_max", "system_in_use", "per_process_max"):
        facts.notes.append(Note(name, "Windows has no system-wide file table limit; "
                                              "socket handles are bounded by non-paged memory"))
    facts.notes.append(Note("somaxconn", "Winsock picks the backlog itself for SOMAXCONN "
                                                 "(documented as a reasonable maximum)"))
    return facts


def _netsh(*args: str) -> Optional[str]:
    try:
        return subprocess.run(["netsh", *args], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def read_system_facts() -> _common.SystemFacts:
    """The dynamic port range less what Hyper-V, WSL2, Docker or WinNAT reserved inside it."""
    dynamic = _netsh(*_NETSH_DYNAMIC)
    excluded = _netsh(*_NETSH_EXCLUDED)
    facts = facts_from_netsh(dynamic or "", excluded)
    if dynamic is None:
        facts.notes.append(Note("port_low", "cannot run netsh"))
    return facts


def fd_ceiling() -> tuple[Optional[int], str]:
    """Windows has no soft fd limit: socket handles are bounded by memory."""
    return None, "no RLIMIT_NOFILE on Windows"


def classify_message(text: str, operation: str) -> Optional[StopReason]:
    """Classify an error of which only the text survives (``[WinError 10055] ...``)."""
    return classify_errno(errno_from_message(text), operation)


def probe_select_cap() -> SelectorCap:
    """Measure how many sockets one select() list takes, by repeating one socket in the list."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)

        def accepts(count: int) -> bool:
            try:
                select.select([sock] * count, [], [], 0)
                return True
            except ValueError:
                return False

        if accepts(_COUNT_PROBE_CEILING):
            return SelectorCap("count", None, f"select() took {_COUNT_PROBE_CEILING} sockets in one list")
        low, high = 1, _COUNT_PROBE_CEILING
        while high - low > 1:
            mid = (low + high) // 2
            if accepts(mid):
                low = mid
            else:
                high = mid
        return SelectorCap("count", low, f"select() takes at most {low} sockets per list "
                                         "(FD_SETSIZE of this build), whatever their handle values")


def process_fds(proc: psutil.Process) -> Optional[int]:
    """Windows counts handles (sockets, files, events ...) where POSIX counts fds; None where it gives none.

    A live process always holds handles, so 0 means the count was not given (Wine's psutil
    reads 0 for every process, issue 18): unknown, never 0.
    """
    return proc.num_handles() or None


def kernel_tcp_stats() -> tuple[Optional[int], Optional[int]]:
    """Windows publishes no socket counters netprobe reads: (None, None)."""
    return None, None


def can_bind_loopback_aliases() -> bool:
    """Windows answers only 127.0.0.1 on loopback unless more addresses are configured."""
    return False


# A connection reset before it was accepted: accept() says WSAECONNRESET (its documented code) or
# WSAECONNABORTED; AcceptEx, under the proactor, ERROR_NETNAME_DELETED (CPython gh-93821). Under
# Wine 8 accept() says WSAENOTCONN, AcceptEx ERROR_UNEXP_NET_ERR, and the proactor's getpeername()
# after AcceptEx WSAENOTCONN (each met by this project's Wine lane).
_PEER_LEFT_WSA = frozenset({10053, 10054, 10057})
_PEER_LEFT_WINERROR = _PEER_LEFT_WSA | {59, 64}


# No one-call answer here: the portable two calls.
connect_outcome = _common.connect_outcome_by_peek


def peer_left_before_accept(exc: OSError) -> bool:
    """Whether accept() failed because the peer reset its pending connection: accept the next one."""
    return exc.errno in _PEER_LEFT_WSA or getattr(exc, "winerror", None) in _PEER_LEFT_WINERROR


def compatibility_layer() -> Optional[str]:
    """The layer this Windows program runs on instead of Windows (``Wine 8.0``), or None on Windows itself.

    Wine's ntdll exports ``wine_get_version``, which Windows' does not: a report made under Wine
    says so, since Wine's kernel is not Windows' (handle counts, port reservations, pool).
    """
    import ctypes

    try:
        get_version = ctypes.WinDLL("ntdll").wine_get_version  # type: ignore[attr-defined,unused-ignore]
    except (AttributeError, OSError):
        return None
    get_version.restype = ctypes.c_char_p
    version = get_version()
    return f"Wine {version.decode('ascii', 'replace')}" if version else "Wine"


def kernel_slab_bytes() -> Optional[int]:
    """The kernel's slab memory: Windows' non-paged pool is not read by netprobe; None (unknown)."""
    return None


def tcp_counters() -> Optional[_common.TcpCounters]:
    """Windows publishes no listen-overflow counters netprobe reads: None (unknown)."""
    return None


# Whether listener_at() can answer on this OS (a listener's accept queue from the kernel).
READS_LISTEN_QUEUE = False
# Windows holds TIME_WAIT for TcpTimedWaitDelay, 120 s by default.
TIME_WAIT_SECONDS: Optional[float] = 120.0


def listener_at(address: tuple[str, int]) -> Optional[_common.ListenState]:
    """Windows does not tell netprobe whether an address listens or its accept queue: None (unknown)."""
    return None


def established_peers(address: tuple[str, int]) -> Optional[dict[tuple[str, int], bool]]:
    """Windows does not tell netprobe which connections a server holds: None (unknown)."""
    return None


def time_wait_toward(address: tuple[str, int]) -> Optional[int]:
    """Windows does not tell netprobe its connections in TIME_WAIT: None (unknown)."""
    return None


def time_wait_at(address: tuple[str, int]) -> Optional[int]:
    """Windows does not tell netprobe a local server's connections in TIME_WAIT: None (unknown)."""
    return None


def retransmits_toward(address: tuple[str, int]) -> Optional[int]:
    """Windows does not tell netprobe its connections' retransmissions: None (unknown)."""
    return None


def cpu_stalled() -> Optional[float]:
    """Windows does not say how long its threads waited for a CPU: None (unknown)."""
    return None


def cpu_demand(pids: list[int]) -> Optional[float]:
    """Windows does not say how long a process waited to run: None (unknown)."""
    return None


def oom_kill_message(pid: int) -> Optional[str]:
    """Windows keeps no kernel log netprobe reads for an out-of-memory kill: None (unknown)."""
    return None
