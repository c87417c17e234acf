"""Linux: limits come from /proc/sys, kernel socket counts from /proc/net/sockstat."""

from __future__ import annotations

import errno as _errno
import os
import socket
from typing import TYPE_CHECKING, Optional

from netprobe.common_records import Note
from netprobe.platform import _common, _sockdiag
from netprobe.platform._parsers import parse_cpu_pressure, parse_proc_netstat, parse_slabinfo, parse_sockstat
from netprobe.platform._posix import (  # re-exported as this platform's API
    HAS_RLIMIT as HAS_RLIMIT,
)
from netprobe.platform._posix import (
    SELECT_COUNTS_SOCKETS as SELECT_COUNTS_SOCKETS,
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
    fd_ceiling as fd_ceiling,
)
from netprobe.platform._posix import (
    fd_limits as fd_limits,
)
from netprobe.platform._posix import (
    linger_zero as linger_zero,
)
from netprobe.platform._posix import (
    move_fd_above as move_fd_above,
)
from netprobe.platform._posix import (
    presize_fd_table as presize_fd_table,
)
from netprobe.platform._posix import (
    probe_select_cap as probe_select_cap,
)
from netprobe.platform._posix import (
    raise_soft_fd_limit as raise_soft_fd_limit,
)
from netprobe.platform._posix import (
    set_soft_fd_limit as set_soft_fd_limit,
)
from netprobe.platform._posix import (
    why_not_private as why_not_private,
)
from netprobe.stops import StopReason, classify_errno_name

if TYPE_CHECKING:
    import psutil

# Linux's numbers (asm-generic/errno*.h) of the errors netprobe classifies, so that a Linux
# result classifies the same on any OS (Windows' Python numbers EADDRNOTAVAIL 10049, say).
LINUX_ERRNO = {
    12: "ENOMEM", 23: "ENFILE", 24: "EMFILE", 98: "EADDRINUSE", 99: "EADDRNOTAVAIL", 104: "ECONNRESET",
    105: "ENOBUFS", 110: "ETIMEDOUT", 111: "ECONNREFUSED",
}


def errno_name(code: Optional[int]) -> Optional[str]:
    """Return the symbolic name of ``code`` (``"EMFILE"``), or None: Linux's numbers, then this Python's."""
    if code is None:
        return None
    return LINUX_ERRNO.get(code) or _errno.errorcode.get(code, str(code))


def classify_errno(code: Optional[int], operation: str) -> Optional[StopReason]:
    """Map a Linux errno met during ``operation`` to a stop reason, or None if unknown."""
    return classify_errno_name(errno_name(code), operation)


def classify_named_errno(name: Optional[str], operation: str) -> Optional[StopReason]:
    """Map the name of a Linux errno met during ``operation`` (as ``errno_name`` gives it) to a stop reason."""
    return classify_errno_name(name, operation)


# Linux's accept() passes a pending connection's own network error up (accept(2), NOTES: "treat
# them like EAGAIN by retrying"), besides ECONNABORTED for one reset before it was accepted.
# Linux's numbers (asm-generic/errno.h), so a Linux result reads the same on any OS: ECONNABORTED,
# EPROTO, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH.
_PEER_LEFT = frozenset({103, 71, 100, 92, 112, 64, 113, 95, 101})


# The states of include/net/tcp_states.h that TCP_INFO reports first.
_TCP_ESTABLISHED = 1
_TCP_CLOSE_WAIT = 8


def connect_outcome(sock: socket.socket) -> Optional[bool]:
    """Whether a non-blocking connect has finished with its peer still there, in one call where it can.

    TCP_INFO's first byte is the connection's state: established (True), still connecting,
    failed or reset (None: the caller waits for writability and reads SO_ERROR), or closed by
    the peer. A server at its cap often says why before it closes (redis: "-ERR max number of
    clients reached"), so a closed one is peeked at as on any OS: True while it has something
    to read, False if it closed without a word. The portable way takes two calls and an
    exception for every connection.
    """
    try:
        state = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
    except OSError:
        return None
    if state == _TCP_ESTABLISHED:
        return True
    return _common.connect_outcome_by_peek(sock) if state == _TCP_CLOSE_WAIT else None


def peer_left_before_accept(exc: OSError) -> bool:
    """Whether accept() failed on one pending connection's own error (its peer gone), not the listener's."""
    return exc.errno in _PEER_LEFT


PROC_SYS = "/proc/sys"
SLABINFO_LIMIT = 1 << 20  # bytes of /proc/slabinfo read: a few hundred caches' lines take about 25 KiB

# SystemFacts field -> (path under /proc/sys, index of the integer in the file)
_SYSCTLS = {
    "system_max": ("fs/file-max", 0),
    "system_in_use": ("fs/file-nr", 0),
    "per_process_max": ("fs/nr_open", 0),
    "somaxconn": ("net/core/somaxconn", 0),
    "port_low": ("net/ipv4/ip_local_port_range", 0),
    "port_high": ("net/ipv4/ip_local_port_range", 1),
    "tcp_tw_reuse": ("net/ipv4/tcp_tw_reuse", 0),
    "tcp_fin_timeout": ("net/ipv4/tcp_fin_timeout", 0),
    "tcp_max_syn_backlog": ("net/ipv4/tcp_max_syn_backlog", 0),
    "tcp_max_tw_buckets": ("net/ipv4/tcp_max_tw_buckets", 0),
    "nf_conntrack_max": ("net/netfilter/nf_conntrack_max", 0),
    "threads_max": ("kernel/threads-max", 0),
    "max_map_count": ("vm/max_map_count", 0),
}
# Facts that only exist with a kernel module loaded: their absence is normal, not worth a note.
_OPTIONAL = {"nf_conntrack_max"}


# Linux 3.9+ spreads the connections of one port over the sockets bound to it with SO_REUSEPORT,
# each with its own accept queue (net/ipv4/inet_hashtables.c): one server, many processes.
SHARES_PORT = True


def share_port(sock: socket.socket) -> None:
    """Let processes of one server listen on one port: the kernel spreads new connections over them."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)


def read_system_facts() -> _common.SystemFacts:
    """Read the system-wide limits from /proc/sys; unreadable ones become None plus a note."""
    return facts_from_proc_sys(PROC_SYS)


def facts_from_proc_sys(proc_sys: str) -> _common.SystemFacts:
    """Read the system-wide limits from a /proc/sys tree at ``proc_sys`` (a copy, in tests)."""
    facts = _common.SystemFacts()
    cache: dict[str, str] = {}
    for name, (rel, index) in _SYSCTLS.items():
        path = f"{proc_sys}/{rel}"
        try:
            if path not in cache:
                with open(path) as f:
                    cache[path] = f.read()
            setattr(facts, name, _common.read_int(cache[path], index))
        except FileNotFoundError:
            if name not in _OPTIONAL:
                facts.notes.append(Note(name, f"{path} does not exist on this kernel"))
        except (OSError, ValueError, IndexError) as exc:
            facts.notes.append(Note(name, f"cannot read {path}: {exc}"))
    return facts


def kernel_tcp_stats() -> tuple[Optional[int], Optional[int]]:
    """Return (TCP sockets in use, TCP memory in pages) from /proc/net/sockstat."""
    try:
        with open("/proc/net/sockstat") as f:
            text = f.read()
    except OSError:
        return None, None
    return parse_sockstat(text)


def kernel_slab_bytes() -> Optional[int]:
    """The kernel's slab memory, where socket structures live, in bytes; None where unreadable.

    /proc/slabinfo (root only) counts the objects in use, so a socket that takes an object another
    one freed still counts. Otherwise ``Slab:`` of /proc/meminfo, which counts the slab's pages: it
    does not grow while freed objects are reused, as they are after any burst of closed connections.
    """
    try:
        with open("/proc/slabinfo", encoding="ascii") as f:
            text = f.read(SLABINFO_LIMIT)
        in_use = parse_slabinfo(text) if len(text) < SLABINFO_LIMIT else None
        if in_use is not None:
            return in_use
    except (OSError, ValueError):
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("Slab:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def tcp_counters() -> Optional[_common.TcpCounters]:
    """The kernel's TcpExt counters netprobe reads, from /proc/net/netstat; None where unreadable."""
    try:
        with open("/proc/net/netstat") as f:
            counters = parse_proc_netstat(f.read())
    except OSError:
        return None
    try:
        return _common.TcpCounters(counters["ListenOverflows"], counters["ListenDrops"], counters["TCPSynRetrans"],
                                   counters.get("TCPTimeWaitOverflow"))
    except KeyError:
        return None


# Whether listener_at() can answer on this OS (a listener's accept queue from the kernel).
READS_LISTEN_QUEUE = True
# Linux holds TIME_WAIT for TCP_TIMEWAIT_LEN, 60 s, fixed at compile time (tcp_fin_timeout is FIN_WAIT_2's).
TIME_WAIT_SECONDS: Optional[float] = 60.0


def listener_at(address: tuple[str, int]) -> Optional[_common.ListenState]:
    """Whether ``address`` listens in this network namespace, and its accept queue (sock_diag)."""
    return _sockdiag.listen_state(address)


def established_peers(address: tuple[str, int]) -> Optional[dict[tuple[str, int], bool]]:
    """The peer of every established connection at ``address``, and whether it was accepted (sock_diag)."""
    return _sockdiag.established_peers(address)


def time_wait_toward(address: tuple[str, int]) -> Optional[int]:
    """This side's connections to ``address`` in TIME_WAIT: it closed them first (sock_diag)."""
    return _sockdiag.time_wait_toward(address)


def time_wait_at(address: tuple[str, int]) -> Optional[int]:
    """A local server's connections at ``address`` in TIME_WAIT: it closed them first (sock_diag)."""
    return _sockdiag.time_wait_at(address)


def retransmits_toward(address: tuple[str, int]) -> Optional[int]:
    """Segments this side's open connections to ``address`` sent again over their lives (sock_diag's TCP info)."""
    return _sockdiag.retransmits_toward(address)


def process_fds(proc: psutil.Process) -> Optional[int]:
    """Return the open fds of a psutil.Process without listing them.

    Since Linux 6.2, stat() of /proc/PID/fd reports the count as its size: O(1), and no
    list of thousands of names whose memory a ramp would then count as its own. Older
    kernels report 0 there, and psutil lists the directory instead.
    """
    try:
        count = os.stat(f"/proc/{proc.pid}/fd").st_size
    except OSError:
        count = 0
    return count if count > 0 else proc.num_fds()


def can_bind_loopback_aliases() -> bool:
    """Linux routes all of 127.0.0.0/8 to lo, so any of it can be a source address."""
    return True


def cpu_stalled() -> Optional[float]:
    """Seconds since boot in which some task waited for a CPU (pressure stall information); None without PSI."""
    try:
        with open("/proc/pressure/cpu") as f:
            stalled = parse_cpu_pressure(f.read())
    except OSError:
        return None  # a kernel built without PSI, or booted with psi=0
    return None if stalled is None else stalled / 1e6


def cpu_demand(pids: list[int]) -> Optional[float]:
    """Seconds the threads of ``pids`` have run or waited to run (schedstat); None where one cannot be read.

    Time on the CPU alone understates a process that wants more than it gets: on a busy machine
    a CPU-bound server runs part of the time and waits in the run queue the rest. Both together
    reach the elapsed time exactly when the process never sleeps of its own accord.
    """
    total = 0
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return None
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    fields = f.read().split()
            except OSError:
                continue  # a thread that ended meanwhile
            try:
                total += int(fields[0]) + int(fields[1])
            except (IndexError, ValueError):
                return None
    return total / 1e9


# The kernel's log is read for an OOM kill only this far back (records, newest last).
KMSG_RECORDS = 20_000


def oom_kill_message(pid: int) -> Optional[str]:
    """The kernel's "Killed process PID ..." line where the OOM killer ended ``pid``; None if unseen or unreadable."""
    try:
        fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None  # not root, or no kernel log here
    found: Optional[str] = None
    try:
        for _ in range(KMSG_RECORDS):
            try:
                record = os.read(fd, 8192)
            except BlockingIOError:
                break
            except OSError:
                continue  # EPIPE: records overwritten while reading; go on with the next
            text = record.decode("utf-8", "replace")
            message = text.split(";", 1)[-1].strip()
            if message.startswith(f"Killed process {pid} ") or f"Killed process {pid} (" in message:
                found = message
    finally:
        os.close(fd)
    return found
