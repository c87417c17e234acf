"""What every POSIX system shares: RLIMIT_NOFILE, errno names, select's fd-number cap."""

from __future__ import annotations

import errno as _errno
import os
import select
import socket
import struct
from typing import TYPE_CHECKING, Optional

from netprobe.common_records import Note, SelectorCap
from netprobe.errors import AboveHardLimit, Unsupported

try:
    import fcntl
    import resource
except ImportError:  # Windows: this module still imports (for the contract test); its functions are not called
    pass
from netprobe.platform import _common
from netprobe.platform._parsers import errno_from_message
from netprobe.stops import StopReason, classify_errno_name

if TYPE_CHECKING:
    import psutil

HAS_RLIMIT = True
#: select() is capped by fd number (FD_SETSIZE), not by how many sockets it watches.
SELECT_COUNTS_SOCKETS = False

# Highest fd number the select() probe will try; far above any FD_SETSIZE seen in practice.
_SELECT_PROBE_CEILING = 1 << 16
# OPEN_MAX of the BSDs and macOS: a soft limit they accept even when the hard one says more.
_BSD_OPEN_MAX = 10240


def fd_limits() -> tuple[Optional[int], Optional[int], Optional[str]]:
    """Return (soft, hard, reason-if-missing) of RLIMIT_NOFILE; infinity becomes ``None``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    inf = resource.RLIM_INFINITY
    return (None if soft == inf else soft), (None if hard == inf else hard), None


def check_soft_fd_limit(soft: int) -> None:
    """Raise AboveHardLimit unless ``soft`` could be set as this process's soft RLIMIT_NOFILE."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft > hard:
        raise AboveHardLimit(soft, hard)


def set_soft_fd_limit(soft: int) -> None:
    """Set the soft RLIMIT_NOFILE of this process, keeping the hard limit."""
    check_soft_fd_limit(soft)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def raise_soft_fd_limit(wanted: int) -> Optional[int]:
    """Raise the soft RLIMIT_NOFILE toward ``wanted`` as far as the hard limit allows; return the new soft."""
    return raise_soft_fd_limit_below(wanted, None)


def raise_soft_fd_limit_below(wanted: int, ceiling: Optional[int]) -> Optional[int]:
    """``raise_soft_fd_limit`` under a kernel cap the hard limit does not show (macOS's kern.maxfilesperproc)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if ceiling is not None:
        target = min(target, ceiling)
    if soft == resource.RLIM_INFINITY:
        return None
    if target <= soft:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft  # the kernel refused; the ramp will find this limit and report it
    return target


def presize_fd_table(count: int) -> None:
    """Grow this process's fd table to ``count`` entries now, while it is cheap.

    Linux grows the table by doubling, and in a process with more than one thread each
    growth waits for an RCU grace period (~10 ms), stalling whatever call opened the fd:
    an accept() at fd 256, 512, 1024 ... A real single-threaded server never pays this, so
    netprobe's threaded server and client should not show it either. The table never
    shrinks, so touching its last slot once is enough.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    top = count if soft == resource.RLIM_INFINITY else min(count, soft)
    if top <= 64:
        return
    try:
        os.dup2(0, top - 1, inheritable=False)
    except OSError:
        return  # stdin closed or the slot in use: growth will happen as fds are opened
    os.close(top - 1)


def move_fd_above(fd: int, floor: int) -> int:
    """Move ``fd`` to the lowest free number at or above ``floor``; return the new number.

    Keeps a process's own sockets out of the fd numbers another part of it watches with
    select(). If the kernel refuses (no free number under the soft limit), ``fd`` stays.
    """
    try:
        moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor)
    except OSError:
        return fd
    os.close(fd)
    return moved


def errno_name(code: Optional[int]) -> Optional[str]:
    """Return the symbolic name of ``code`` (``"EMFILE"``), or None."""
    if code is None:
        return None
    return _errno.errorcode.get(code, str(code))


def classify_errno(code: Optional[int], operation: str) -> Optional[StopReason]:
    """Map an errno met during ``operation`` to a stop reason, or None if unknown."""
    return classify_errno_name(errno_name(code), operation)


def classify_named_errno(name: Optional[str], operation: str) -> Optional[StopReason]:
    """Map the name of an errno met during ``operation`` (as ``errno_name`` gives it) to a stop reason."""
    return classify_errno_name(name, operation)


def _fd_is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _select_accepts(fd_source: int, fd_number: int) -> bool:
    """Whether select() accepts an fd with this number (duplicated onto a free slot)."""
    if _fd_is_open(fd_number):
        # An fd already open there proves nothing about a free number; select it directly.
        target, owned = fd_number, False
    else:
        os.dup2(fd_source, fd_number, inheritable=False)
        target, owned = fd_number, True
    try:
        select.select([target], [], [], 0)
        return True
    except ValueError:
        return False
    finally:
        if owned:
            os.close(target)


def probe_select_cap() -> SelectorCap:
    """Measure the first fd number select() refuses (FD_SETSIZE) with dup2, not hundreds of sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = _SELECT_PROBE_CEILING if hard == resource.RLIM_INFINITY else min(hard, _SELECT_PROBE_CEILING)
    raised = False
    if soft != resource.RLIM_INFINITY and soft < ceiling:
        # dup2 onto a high number needs the soft limit above it; put it back at once. macOS
        # reports an unlimited hard limit yet refuses more than kern.maxfilesperproc: step down.
        for attempt in (ceiling, _BSD_OPEN_MAX, soft):
            if attempt <= soft:
                ceiling = soft
                break
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (attempt, hard))
            except (ValueError, OSError):
                continue
            ceiling, raised = attempt, True
            break
    read_end, write_end = os.pipe()
    try:
        if _select_accepts(read_end, ceiling - 1):
            return SelectorCap(
                "fd_number", None,
                f"select() accepted fd {ceiling - 1}, the highest this process may open",
            )
        low, high = 0, ceiling - 1  # select accepts low, refuses high
        while high - low > 1:
            mid = (low + high) // 2
            if _select_accepts(read_end, mid):
                low = mid
            else:
                high = mid
        return SelectorCap(
            "fd_number", high,
            f"select() refuses any fd numbered {high} or more (FD_SETSIZE), however few are watched",
        )
    finally:
        os.close(read_end)
        os.close(write_end)
        if raised:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def why_not_private(fd: int) -> Optional[str]:
    """Why the open file ``fd`` cannot hold a secret of this user's (another owner, or others may read or
    write it); None when it is private."""
    import stat

    st = os.fstat(fd)
    if st.st_uid != os.geteuid():
        return f"it belongs to another user (uid {st.st_uid}), who could have chosen it"
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        return "other users can read or change it: make it private (chmod 600)"
    return None


SHARES_PORT = False


def share_port(sock: socket.socket) -> None:
    """Let processes of one server listen on one port, the kernel spreading connections; not offered here."""
    raise Unsupported("this kernel does not spread one port's connections over processes (Linux's SO_REUSEPORT)")


def allow_rebind(sock: socket.socket) -> None:
    """Let a server bind a port whose previous connections linger in TIME_WAIT."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)


def linger_zero() -> bytes:
    """SO_LINGER {on, 0 seconds}: struct linger holds two ints on POSIX."""
    return struct.pack("ii", 1, 0)


def process_fds(proc: psutil.Process) -> Optional[int]:
    """Return the open fds of a psutil.Process; None where the count is 0, which no live process has."""
    return proc.num_fds() or None


def can_bind_loopback_aliases() -> bool:
    """Whether 127.0.0.2 and up can be bound without configuring aliases."""
    return False


def kernel_tcp_stats() -> tuple[Optional[int], Optional[int]]:
    """Return (TCP sockets in use, TCP memory pages) where the kernel tells; else (None, None)."""
    return None, None


def read_system_facts() -> _common.SystemFacts:
    """Read what this POSIX system says of its limits; a generic POSIX system says little."""
    facts = _common.SystemFacts()
    for name in ("system_max", "per_process_max", "somaxconn", "port_low"):
        facts.notes.append(Note(name, "this POSIX system is not one netprobe reads limits from"))
    return facts


def fd_ceiling() -> tuple[Optional[int], str]:
    """The highest soft fd limit this process may set (None: unlimited), and what binds it."""
    _, hard, _ = fd_limits()
    return hard, "the hard RLIMIT_NOFILE"


def classify_message(text: str, operation: str) -> Optional[StopReason]:
    """Classify an error of which only the text survives (``[Errno 24] Too many open files``)."""
    return classify_errno(errno_from_message(text), operation)


# accept() errors that belong to one pending connection its peer gave up on, not to the listener.
_PEER_LEFT = frozenset({_errno.ECONNABORTED, _errno.EPROTO})


# No one-call answer here: the portable two calls.
connect_outcome = _common.connect_outcome_by_peek


def peer_left_before_accept(exc: OSError) -> bool:
    """Whether accept() failed because the peer abandoned its connection first: accept the next one."""
    return exc.errno in _PEER_LEFT


def compatibility_layer() -> Optional[str]:
    """A layer standing in for the OS, where netprobe can tell: none on POSIX systems."""
    return None


def kernel_slab_bytes() -> Optional[int]:
    """The kernel's slab memory in bytes, where the OS tells; None here."""
    return None


def tcp_counters() -> Optional[_common.TcpCounters]:
    """this system publishes no listen-overflow counters netprobe reads: None (unknown)."""
    return None


# Whether listener_at() can answer on this OS (a listener's accept queue from the kernel).
READS_LISTEN_QUEUE = False
# How long this system holds TIME_WAIT is not known here.
TIME_WAIT_SECONDS: Optional[float] = None


def listener_at(address: tuple[str, int]) -> Optional[_common.ListenState]:
    """this system does not tell netprobe whether an address listens or its accept queue: None (unknown)."""
    return None


def established_peers(address: tuple[str, int]) -> Optional[dict[tuple[str, int], bool]]:
    """this system does not tell netprobe which connections a server holds: None (unknown)."""
    return None


def time_wait_toward(address: tuple[str, int]) -> Optional[int]:
    """This system does not tell netprobe its connections in TIME_WAIT: None (unknown)."""
    return None


def time_wait_at(address: tuple[str, int]) -> Optional[int]:
    """This system does not tell netprobe a local server's connections in TIME_WAIT: None (unknown)."""
    return None


def retransmits_toward(address: tuple[str, int]) -> Optional[int]:
    """This system does not tell netprobe its connections' retransmissions: None (unknown)."""
    return None


def cpu_stalled() -> Optional[float]:
    """this system does not say how long its tasks waited for a CPU: None (unknown)."""
    return None


def cpu_demand(pids: list[int]) -> Optional[float]:
    """this system does not say how long a process waited to run: None (unknown)."""
    return None


def oom_kill_message(pid: int) -> Optional[str]:
    """this system keeps no kernel log netprobe reads for an out-of-memory kill: None (unknown)."""
    return None
