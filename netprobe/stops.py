"""Why a ramp stops: every stop reason as one record, with how it is recognised and its remedy per OS.

Adding a stop reason is a member of ``StopReason`` plus its ``StopKind`` in ``KINDS`` below; the
verdict, the JSON, the docs table (``python -m netprobe.stops`` prints it) and the tests read them
from here. Remedies are templates: ``{hard}`` is the hard fd limit, ``{side}`` the side that
met the limit. A per-OS remedy replaces the generic one on that OS (``linux``, ``darwin``,
``windows``; other POSIX systems get the generic text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from netprobe.vocabulary import Operation, Word


class StopReason(Word):
    """Why a ramp stopped, or which limit a server met."""

    SELECT_LIMIT = "select_limit"
    LOOP_LIMIT = "loop_limit"
    FD_LIMIT = "fd_limit"
    SYSTEM_FD_LIMIT = "system_fd_limit"
    PORT_EXHAUSTION = "port_exhaustion"
    BACKLOG = "backlog"
    SYN_DROPPED = "syn_dropped"
    RESET_BY_NETWORK = "reset_by_network"
    STOPPED_ACCEPTING = "stopped_accepting"
    CLOSED_BY_SERVER = "closed_by_server"
    ACCESS_DENIED = "access_denied"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    LATENCY_KNEE = "latency_knee"
    MEMORY = "memory"
    THREAD_LIMIT = "thread_limit"
    SERVER_EXITED = "server_exited"
    WORKER_LOST = "worker_lost"
    MASTER_PAUSED = "master_paused"
    INTERRUPTED = "interrupted"
    OTHER = "other"


# Stops met between the two ends: a firewall or a route.
NETWORK_STOPS = frozenset({StopReason.SYN_DROPPED, StopReason.RESET_BY_NETWORK, StopReason.ACCESS_DENIED})

# accept() errors that mean "out of a resource": a server pauses accepting and keeps serving.
ACCEPT_LIMITS = frozenset({StopReason.FD_LIMIT, StopReason.SYSTEM_FD_LIMIT, StopReason.MEMORY})


@dataclass(frozen=True)
class StopKind:
    """One stop reason: what it means, where it strikes, how an errno names it, and how to get past it."""

    reason: StopReason
    meaning: str  # one line for the docs table
    typical_side: str  # for the docs table: "server", "client or server", ...
    remedy: str  # true on any OS
    #: POSIX errno names (Winsock's without their WSA prefix) that mean this stop ...
    errnos: tuple[str, ...] = ()
    #: ... and those that mean it only while connecting or binding.
    connect_errnos: tuple[str, ...] = ()
    #: A more precise remedy on one OS, by ``netprobe.platform.NAME``.
    remedy_on: dict[str, str] = field(default_factory=dict)
    #: The remedy where the soft limit already equals the hard one, generic and per OS (fd_limit).
    at_hard: Optional[str] = None
    at_hard_on: dict[str, str] = field(default_factory=dict)
    #: Whether stopping here found a wall of the target's capacity: a ramp without ``--to`` that
    #: stops so is a success. Not so for nothing listening, a signal, a lost worker or the unknown.
    finds_wall: bool = True


KINDS: tuple[StopKind, ...] = (
    StopKind(
        StopReason.SELECT_LIMIT,
        "select() refused the set: fd >= FD_SETSIZE (POSIX), more than 512 sockets (Windows)", "server",
        "select() cannot watch fd 1024 or above: {selector} poll (or the platform's epoll/kqueue, "
        "which selectors.DefaultSelector picks)",
        remedy_on={
            "linux": "select() cannot watch fd 1024 or above (FD_SETSIZE): {selector} epoll or poll "
                     "(selectors.DefaultSelector picks epoll on Linux)",
            "darwin": "select() cannot watch fd 1024 or above (FD_SETSIZE): {selector} kqueue "
                      "(selectors.DefaultSelector picks kqueue on macOS) or poll",
            "windows": "Windows select() takes at most 512 sockets per call: use asyncio's ProactorEventLoop "
                       "(IOCP, the default since 3.8), gevent (its libuv loop is not capped by select), "
                       "or spread sockets over several select() calls",
        }),
    StopKind(
        StopReason.LOOP_LIMIT,
        "the event loop refused to watch one more socket: gevent's libev loop on Windows waits with a "
        "select() built for 1024 sockets", "server",
        "the event loop cannot watch more sockets: choose a loop without that cap (--loop)",
        remedy_on={
            "windows": "gevent's libev loop waits with select(), which gevent builds for 1024 sockets on "
                       "Windows: use its libuv loop (`--loop libuv` here; GEVENT_LOOP=libuv or "
                       "gevent.config.loop = 'libuv' in a program; it needs cffi, which gevent's Windows "
                       "wheels require), the default where cffi is installed",
        }),
    StopKind(
        StopReason.FD_LIMIT, "EMFILE / WSAEMFILE: the process's fd limit", "server or client",
        "raise the soft fd limit: `ulimit -n {hard}` in the shell that starts it, "
        "or resource.setrlimit(RLIMIT_NOFILE, (hard, hard)) at start-up",
        errnos=("EMFILE",),
        remedy_on={
            "linux": "raise the {side}'s soft fd limit: `ulimit -n {hard}` in its shell, LimitNOFILE= in its "
                     "systemd unit, or resource.setrlimit(RLIMIT_NOFILE) at start-up (hard limit here {hard}; "
                     "above it edit /etc/security/limits.conf)",
            "darwin": "raise the {side}'s soft fd limit: `ulimit -n N` in its shell (up to kern.maxfilesperproc; "
                      "hard limit here {hard}), or `sudo launchctl limit maxfiles N unlimited` for programs "
                      "launchd starts (its default soft limit is 256)",
            "windows": "WSAEMFILE: the process ran out of socket handles; close idle sockets or split the load "
                       "over processes",
        },
        at_hard="the {side}'s soft fd limit is already its hard limit ({hard}): raise the hard limit first, as "
                "root, then the soft one",
        at_hard_on={
            "linux": "the {side}'s soft fd limit is already its hard limit ({hard}): raise the hard limit first, "
                     "as root: LimitNOFILE= in its systemd unit, /etc/security/limits.conf, or "
                     "`prlimit --nofile=N:N --pid PID`",
            "darwin": "the {side}'s soft fd limit is already its hard limit ({hard}): raise the hard limit first: "
                      "`sudo launchctl limit maxfiles N N` (up to kern.maxfilesperproc)",
        }),
    StopKind(
        StopReason.SYSTEM_FD_LIMIT, "ENFILE: the system file table; or the guard stopped before it ran low",
        "system", "the system-wide file table is full: raise it or close other programs",
        errnos=("ENFILE",),
        remedy_on={
            "linux": "the system file table is full: `sysctl -w fs.file-max=N` (see fs.file-nr)",
            "darwin": "the system file table is full: `sudo sysctl -w kern.maxfiles=N`",
            "windows": "Windows ran out of handles system-wide: close other programs' sockets",
        }),
    StopKind(
        StopReason.PORT_EXHAUSTION,
        "EADDRNOTAVAIL at connect (Windows: WSAEADDRINUSE, WSAENOBUFS, WSAEADDRNOTAVAIL)", "client",
        "one source address can reach one destination through the ephemeral range only: widen it, or spread "
        "over more server ports (--ports)",
        errnos=("EADDRNOTAVAIL",), connect_errnos=("EADDRINUSE",),
        remedy_on={
            "linux": "ephemeral ports to one destination ran out: widen `sysctl -w "
                     "net.ipv4.ip_local_port_range='1024 65535'`, spread over more server ports (--ports) or "
                     "source addresses (--source-ips)",
            "darwin": "ephemeral ports to one destination ran out: `sudo sysctl -w net.inet.ip.portrange.first=10000`,"
                      " or spread over more server ports (--ports)",
            "windows": "the dynamic port range ran out: `netsh int ipv4 set dynamicport tcp start=10000 num=55536` "
                       "(as administrator), or spread over more server ports (--ports)",
        }),
    StopKind(
        StopReason.BACKLOG,
        "handshakes did not complete within the timeout, and the accept queue was read full or the kernel "
        "counted overflows (where neither can be read, a timed-out handshake is named so too)", "server",
        "the accept queue overflowed: raise the listen() backlog and somaxconn, accept faster",
        remedy_on={
            "linux": "the accept queue overflowed: raise `sysctl -w net.core.somaxconn=N` and the listen() "
                     "backlog, or accept faster",
            "darwin": "the accept queue overflowed: `sudo sysctl -w kern.ipc.somaxconn=N` and a larger listen() "
                      "backlog",
            "windows": "the accept queue overflowed: accept faster or pass a larger listen() backlog",
        }),
    StopKind(
        StopReason.SYN_DROPPED,
        "handshakes timed out while the server listened with room in its accept queue and the kernel counted "
        "no overflow: something on the way dropped the connection requests (a firewall, a connection limit)",
        "network",
        "connection requests are dropped on the way while the server has room: look at the firewall's rules "
        "and connection limits between client and server",
        remedy_on={
            "linux": "connection requests are dropped while the server has room: look for a DROP rule or a "
                     "connection limit (`nft list ruleset`, `iptables -S`; `ct count`, connlimit, hashlimit) "
                     "and at `net.netfilter.nf_conntrack_max` against `nf_conntrack_count`",
        }),
    StopKind(
        StopReason.RESET_BY_NETWORK,
        "connects were answered with a reset (ECONNREFUSED) while the server listened with room in its queue, "
        "or rejected on the way (EHOSTUNREACH, ENETUNREACH: an ICMP rejection): not by the server", "network",
        "a firewall answers connection requests with a reset or an ICMP rejection though the server listens: "
        "look at its REJECT rules and connection limits",
        connect_errnos=("EHOSTUNREACH", "ENETUNREACH"),
        remedy_on={
            "linux": "a firewall rejects connection requests though the server listens: look for `reject` "
                     "rules (`reject with tcp reset`, ICMP rejections) or a connection limit (`nft list ruleset`, "
                     "`iptables -S`)",
        }),
    StopKind(
        StopReason.STOPPED_ACCEPTING,
        "the kernel completed handshakes the server never accepted: they wait in its listen queue "
        "(netprobe reads the queue on Linux and does not count them as held)", "server",
        "the server stopped calling accept(): a connection cap of its own (haproxy maxconn, a pool size) or a "
        "stalled loop; raise that cap, as a larger listen() backlog would only queue more"),
    StopKind(
        StopReason.CLOSED_BY_SERVER,
        "the server accepted connections, then closed or reset them; its first words before closing are "
        "kept, and a refusal netprobe knows names the server's setting", "server",
        "the server closes connections past a limit of its own: raise that limit (the message names it where "
        "the server said which; nginx says nothing when it frees idle connections at worker_connections)",
        # A reset, even one that arrives before connect() returns, comes after a completed handshake:
        # a connection nothing accepts is refused (ECONNREFUSED), not reset.
        errnos=("ECONNRESET",)),
    StopKind(
        StopReason.ACCESS_DENIED,
        "refused for who the client is, not for how many: the server turned away its address or credentials "
        "(redis protected mode, pg_hba.conf), or a firewall on this machine forbade the connect (EPERM, EACCES)",
        "server or network",
        "the client is not allowed in: let its address in (the server's access rules or the firewall), or "
        "connect from an address it takes (--source-ips, --spawn-local's sources)",
        connect_errnos=("EPERM", "EACCES"), finds_wall=False),
    StopKind(
        StopReason.REFUSED, "ECONNREFUSED: nothing listens", "server",
        "nothing accepts at that address (or its accept queue overflowed and it resets)",
        errnos=("ECONNREFUSED",), finds_wall=False),
    StopKind(
        StopReason.TIMEOUT, "connected, but no answer within `--timeout`", "server",
        "the peer did not answer within --timeout: it is stalled or overloaded; raise --timeout or look at "
        "the server",
        errnos=("ETIMEDOUT",)),
    StopKind(
        StopReason.LATENCY_KNEE,
        "under traffic (`--rate`), p99 latency passed `--max-latency` or the replies fell 5% short of the rate "
        "asked; `stop.cause` says why", "server or client",
        "the server answers too late at this load: see the cause (stop.cause) for what gave out first"),
    StopKind(
        StopReason.MEMORY, "ENOMEM / ENOBUFS, or the memory guard", "client, server or system",
        "the kernel ran out of socket buffer memory: free memory or lower buffer sizes",
        errnos=("ENOMEM", "ENOBUFS"),
        remedy_on={
            "linux": "the kernel refused socket memory: free memory or raise net.ipv4.tcp_mem",
            "windows": "WSAENOBUFS: Winsock ran out of buffer space (non-paged pool); use fewer sockets or less "
                       "buffering",
        }),
    StopKind(
        StopReason.THREAD_LIMIT,
        "a thread could not start (its stack's memory, RLIMIT_NPROC, kernel.threads-max): the threads client "
        "or backend", "client or server",
        "the process cannot start another thread (memory for its stack, or a limit on threads): use an "
        "event-loop backend, or raise the thread limits",
        remedy_on={
            "linux": "no more threads: raise `ulimit -u` (RLIMIT_NPROC), `sysctl -w kernel.threads-max=N` and "
                     "vm.max_map_count, lower the stack size (threading.stack_size), or use an event-loop backend",
        }),
    StopKind(
        StopReason.SERVER_EXITED, "the server process died (for a server on this machine, with the kernel's "
        "line where the OOM killer ended it)", "server",
        "the server process died: read its exit status and stderr; where the OOM killer ended it, raise its "
        "memory limit (the cgroup's memory limit, systemd's MemoryMax=, docker --memory) or spend less per "
        "connection"),
    StopKind(
        StopReason.WORKER_LOST,
        "a process holding connections stopped answering: a distributed ramp's worker (killed, network lost) "
        "or a spread ramp's client process; its share is not moved to the others", "client",
        "a process holding connections stopped answering (killed, or its network went away): look at that "
        "machine or process, then run again; netprobe does not move its share onto the others", finds_wall=False),
    StopKind(
        StopReason.MASTER_PAUSED,
        "a distributed ramp's master did not run for longer than its workers wait for word from it (SIGSTOP, a "
        "paused VM, a starved CPU): they closed their connections, and no worker is to blame", "client",
        "keep the master's process and machine running through the run (no SIGSTOP, no paused or "
        "oversubscribed VM), then run again", finds_wall=False),
    StopKind(
        StopReason.INTERRUPTED,
        "Ctrl-C or SIGTERM: exit 130, the partial report is still printed and written", "",
        "run again without interrupting", finds_wall=False),
    StopKind(
        StopReason.OTHER, "anything else, with its errno and message", "",
        "see the message; this stop is not one netprobe recognises", finds_wall=False),
)

_BY_REASON = {kind.reason: kind for kind in KINDS}


def kind_of(reason: StopReason) -> StopKind:
    """The record of ``reason``."""
    return _BY_REASON[reason]


def finds_wall(reason: StopReason) -> bool:
    """Whether a stop for ``reason`` found a wall of the target's capacity (see ``StopKind.finds_wall``)."""
    return _BY_REASON[reason].finds_wall


def classify_errno_name(name: Optional[str], operation: str) -> Optional[StopReason]:
    """The stop an errno name (``"EMFILE"``; Winsock's without ``WSA``) met during ``operation`` means, if any."""
    if name is None:
        return None
    connecting = operation in (Operation.CONNECT, Operation.BIND)
    for kind in KINDS:
        if name in kind.errnos or (connecting and name in kind.connect_errnos):
            return kind.reason
    return None


def remedy(reason: StopReason, os_name: str, side: str, hard: Optional[int], soft: Optional[int] = None,
           chooses_selector: bool = True) -> str:
    """How to get past ``reason`` on ``os_name`` for ``side``, with the limits filled in.

    ``soft`` is the soft fd limit of that side, where known: at the hard limit, raising the soft
    one cannot help. ``chooses_selector`` says whether the backend takes ``--selector``.
    """
    kind = _BY_REASON[reason]
    template = kind.remedy_on.get(os_name, kind.remedy)
    if kind.at_hard is not None and soft is not None and hard is not None and soft >= hard:
        template = kind.at_hard_on.get(os_name, kind.at_hard)
    selector = "use --selector" if chooses_selector else "use --backend selectors, which can wait with"
    return template.format(hard="unlimited" if hard is None else hard, side=side, selector=selector)


def docs_table() -> str:
    """The stop-reason table of docs/ramp.md, in markdown."""
    rows = ["| reason | what happened | typical side | a wall (ok without `--to`) |", "|---|---|---|---|"]
    rows += [f"| `{k.reason}` | {k.meaning} | {k.typical_side} | {'yes' if k.finds_wall else 'no'} |"
             for k in KINDS]
    return "\n".join(rows) + "\n"

if __name__ == "__main__":
    print(docs_table(), end="")
