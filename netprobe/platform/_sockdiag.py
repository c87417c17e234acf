"""Linux's socket diagnostics (NETLINK_SOCK_DIAG): the accept queue of every listening TCP socket.

A listening socket's receive queue, as inet_diag reports it, is the number of connections the
kernel completed that the program has not accepted yet (its send queue is the backlog). Asking
for listening sockets only, or (with a bytecode filter the kernel runs) for one port's
established ones, keeps the dump small however many connections the machine holds, where
/proc/net/tcp would list every one of them. Imports on every OS; answers only on Linux.
"""

from __future__ import annotations

import socket
import struct
from typing import NamedTuple, Optional

from netprobe.platform._common import ListenState

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x01, 0x300
NLMSG_DONE, NLMSG_ERROR = 3, 2
TCP_ESTABLISHED, TCP_TIME_WAIT, TCP_LISTEN = 1, 6, 10
INET_DIAG_REQ_BYTECODE = 1
INET_DIAG_BC_S_GE, INET_DIAG_BC_S_LE, INET_DIAG_BC_D_GE, INET_DIAG_BC_D_LE = 2, 3, 4, 5
BC_OP = struct.Struct("=BBH")  # inet_diag_bc_op: code, yes (jump if true), no (jump if false)
NLATTR = struct.Struct("=HH")  # length, type
# A dump of many thousands of sockets comes in large parts.
RECEIVE_BUFFER = 1 << 20
NLMSG_HEADER = struct.Struct("=IHHII")  # length, type, flags, sequence, pid
# inet_diag_req_v2: family, protocol, ext, pad, states, then inet_diag_sockid (48 bytes).
REQUEST = struct.Struct("=BBBBI48s")
# inet_diag_msg: family, state, timer, retrans, sockid (sport, dport big-endian; src, dst 16 bytes
# each; interface; cookie), expires, rqueue, wqueue, uid, inode.
MESSAGE = struct.Struct("=BBBB2s2s16s16sI8sIIIII")
# Asked for with idiag_ext bit INET_DIAG_INFO - 1, a struct tcp_info follows as the attribute
# INET_DIAG_INFO; its tcpi_total_retrans (segments sent again over the connection's life) is the
# u32 after 8 bytes of flags and 23 u32 fields (linux/tcp.h).
INET_DIAG_INFO = 2
TOTAL_RETRANS = struct.Struct("=I")
TOTAL_RETRANS_OFFSET = 100


class Listener(NamedTuple):
    """One listening TCP socket: where it listens, and its accept queue now."""

    host: str
    port: int
    queued: int  # completed handshakes not accepted yet
    backlog: int  # the most the queue holds


class _Entry(NamedTuple):
    host: str
    port: int
    peer_host: str
    peer_port: int
    rqueue: int
    wqueue: int
    inode: int  # 0 until a program accepts the connection (it then has a file)
    total_retrans: Optional[int] = None  # asked for with the TCP information only


def _port_filter(port: int, remote: bool = False) -> bytes:
    """An inet_diag bytecode attribute keeping only sockets whose local (or ``remote``) port is ``port``."""
    at_least, at_most = (INET_DIAG_BC_D_GE, INET_DIAG_BC_D_LE) if remote else (INET_DIAG_BC_S_GE, INET_DIAG_BC_S_LE)
    program = (BC_OP.pack(at_least, BC_OP.size * 2, BC_OP.size * 4 + 4) + BC_OP.pack(0, 0, port)
               + BC_OP.pack(at_most, BC_OP.size * 2, BC_OP.size * 2 + 4) + BC_OP.pack(0, 0, port))
    return NLATTR.pack(NLATTR.size + len(program), INET_DIAG_REQ_BYTECODE) + program


def _request(family: int, states: int, port: Optional[int], remote: bool = False, info: bool = False) -> bytes:
    ext = 1 << (INET_DIAG_INFO - 1) if info else 0
    body = REQUEST.pack(family, socket.IPPROTO_TCP, ext, 0, states, b"\0" * 48)
    if port is not None:
        body += _port_filter(port, remote)
    return NLMSG_HEADER.pack(NLMSG_HEADER.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP,
                             1, 0) + body


def _parse(data: bytes, family: int) -> tuple[list[_Entry], bool]:
    """The sockets in one netlink reply buffer, and whether the dump is over."""
    found: list[_Entry] = []
    offset = 0
    width = 4 if family == socket.AF_INET else 16
    while offset + NLMSG_HEADER.size <= len(data):
        length, kind, _, _, _ = NLMSG_HEADER.unpack_from(data, offset)
        if length < NLMSG_HEADER.size:
            return found, True
        if kind in (NLMSG_DONE, NLMSG_ERROR):
            return found, True
        body = data[offset + NLMSG_HEADER.size: offset + length]
        if len(body) >= MESSAGE.size:
            fields = MESSAGE.unpack_from(body)
            sport, dport, src, dst = fields[4], fields[5], fields[6], fields[7]
            found.append(_Entry(socket.inet_ntop(family, src[:width]), struct.unpack(">H", sport)[0],
                                socket.inet_ntop(family, dst[:width]), struct.unpack(">H", dport)[0],
                                fields[11], fields[12], fields[14], _total_retrans(body[MESSAGE.size:])))
        offset += (length + 3) & ~3
    return found, False


def _total_retrans(attributes: bytes) -> Optional[int]:
    """tcpi_total_retrans from a message's attributes, where it carries the TCP information."""
    offset = 0
    while offset + NLATTR.size <= len(attributes):
        length, kind = NLATTR.unpack_from(attributes, offset)
        if length < NLATTR.size:
            return None
        if kind == INET_DIAG_INFO and length >= NLATTR.size + TOTAL_RETRANS_OFFSET + TOTAL_RETRANS.size:
            return int(TOTAL_RETRANS.unpack_from(attributes, offset + NLATTR.size + TOTAL_RETRANS_OFFSET)[0])
        offset += (length + 3) & ~3
    return None


def _dump(states: int, port: Optional[int] = None, remote: bool = False,
          info: bool = False) -> Optional[list[_Entry]]:
    """Every TCP socket of this network namespace in ``states`` (on local, or ``remote``, ``port``); None if unknown."""
    family_netlink = getattr(socket, "AF_NETLINK", None)
    if family_netlink is None:
        return None
    found: list[_Entry] = []
    try:
        with socket.socket(family_netlink, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            for family in (socket.AF_INET, socket.AF_INET6):
                sock.sendto(_request(family, states, port, remote, info), (0, 0))
                done = False
                while not done:
                    part, done = _parse(sock.recv(RECEIVE_BUFFER), family)
                    found += part
    except OSError:
        return None
    return found


def listeners() -> Optional[list[Listener]]:
    """Every listening TCP socket of this network namespace, or None where the kernel cannot say."""
    found = _dump(1 << TCP_LISTEN)
    if found is None:
        return None
    return [Listener(e.host, e.port, e.rqueue, e.wqueue) for e in found]


def listen_state(address: tuple[str, int]) -> Optional[ListenState]:
    """Whether ``address`` listens (on its own or on every address), and its listeners' queues added up."""
    found = listeners()
    if found is None:
        return None
    host, port = address
    wildcard = ("0.0.0.0", "::")
    mine = [entry for entry in found if entry.port == port and (entry.host == host or entry.host in wildcard)]
    if not mine:
        return ListenState(listening=False)
    return ListenState(True, sum(entry.queued for entry in mine), sum(entry.backlog for entry in mine))


def established_peers(address: tuple[str, int]) -> Optional[dict[tuple[str, int], bool]]:
    """The peer of every established connection at ``address``, and whether the server accepted it (or it is queued)."""
    found = _dump(1 << TCP_ESTABLISHED, address[1])
    if found is None:
        return None
    host = address[0]
    return {(e.peer_host, e.peer_port): e.inode != 0 for e in found if e.port == address[1] and e.host == host}


def time_wait_toward(address: tuple[str, int]) -> Optional[int]:
    """Connections to ``address`` in TIME_WAIT on this side (it closed them first); None where the kernel cannot say."""
    found = _dump(1 << TCP_TIME_WAIT, address[1], remote=True)
    if found is None:
        return None
    return sum(1 for e in found if e.peer_port == address[1] and e.peer_host == address[0])


def time_wait_at(address: tuple[str, int]) -> Optional[int]:
    """Connections at the local ``address`` in TIME_WAIT (its server closed them first); None where unknown."""
    found = _dump(1 << TCP_TIME_WAIT, address[1])
    if found is None:
        return None
    return sum(1 for e in found if e.port == address[1] and e.host == address[0])


def retransmits_toward(address: tuple[str, int]) -> Optional[int]:
    """Segments this side's open connections to ``address`` sent again, summed over their lives; None if unknown."""
    found = _dump(1 << TCP_ESTABLISHED, address[1], remote=True, info=True)
    if found is None:
        return None
    mine = [e.total_retrans for e in found if e.peer_port == address[1] and e.peer_host == address[0]]
    return None if None in mine else sum(r for r in mine if r is not None)
