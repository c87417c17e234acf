"""Linux's socket diagnostics (NETLINK_SOCK_DIAG): the accept queue of every listening TCP socket.

A listening socket's receive queue, as inet_diag reports it, is the number of connections the
kernel completed that the program has not accepted yet (its send queue is the backlog). Asking
for listening sockets only keeps the dump small however many connections the machine holds,
where /proc/net/tcp would list every one of them. Imports on every OS; answers only on Linux.
"""

from __future__ import annotations

import socket
import struct
from typing import NamedTuple, Optional

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x01, 0x300
NLMSG_DONE, NLMSG_ERROR = 3, 2
TCP_LISTEN = 10
NLMSG_HEADER = struct.Struct("=IHHII")  # length, type, flags, sequence, pid
# inet_diag_req_v2: family, protocol, ext, pad, states, then inet_diag_sockid (48 bytes).
REQUEST = struct.Struct("=BBBBI48s")
# inet_diag_msg: family, state, timer, retrans, sockid (sport, dport big-endian; src, dst 16 bytes
# each; interface; cookie), expires, rqueue, wqueue, uid, inode.
MESSAGE = struct.Struct("=BBBB2s2s16s16sI8sIIIII")


class Listener(NamedTuple):
    """One listening TCP socket: where it listens, and its accept queue now."""

    host: str
    port: int
    queued: int  # completed handshakes not accepted yet
    backlog: int  # the most the queue holds


def _request(family: int) -> bytes:
    body = REQUEST.pack(family, socket.IPPROTO_TCP, 0, 0, 1 << TCP_LISTEN, b"\0" * 48)
    return NLMSG_HEADER.pack(NLMSG_HEADER.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP,
                             1, 0) + body


def _parse(data: bytes, family: int) -> tuple[list[Listener], bool]:
    """The listeners in one netlink reply buffer, and whether the dump is over."""
    found: list[Listener] = []
    offset = 0
    while offset + NLMSG_HEADER.size <= len(data):
        length, kind, _, _, _ = NLMSG_HEADER.unpack_from(data, offset)
        if length < NLMSG_HEADER.size:
            return found, True
        if kind in (NLMSG_DONE, NLMSG_ERROR):
            return found, True
        body = data[offset + NLMSG_HEADER.size: offset + length]
        if len(body) >= MESSAGE.size:
            fields = MESSAGE.unpack_from(body)
            sport, src, rqueue, wqueue = fields[4], fields[6], fields[11], fields[12]
            raw = src[:4] if family == socket.AF_INET else src
            found.append(Listener(socket.inet_ntop(family, raw), struct.unpack(">H", sport)[0], rqueue, wqueue))
        offset += (length + 3) & ~3
    return found, False


def listeners() -> Optional[list[Listener]]:
    """Every listening TCP socket of this network namespace, or None where the kernel cannot say."""
    family_netlink = getattr(socket, "AF_NETLINK", None)
    if family_netlink is None:
        return None
    found: list[Listener] = []
    try:
        with socket.socket(family_netlink, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as sock:
            for family in (socket.AF_INET, socket.AF_INET6):
                sock.sendto(_request(family), (0, 0))
                done = False
                while not done:
                    part, done = _parse(sock.recv(65536), family)
                    found += part
    except OSError:
        return None
    return found


def queued_at(address: tuple[str, int]) -> Optional[int]:
    """Connections completed but not accepted at ``address`` (its own listener, or one on every address)."""
    found = listeners()
    if found is None:
        return None
    host, port = address
    wildcard = ("0.0.0.0", "::")
    mine = [entry for entry in found if entry.port == port and (entry.host == host or entry.host in wildcard)]
    return sum(entry.queued for entry in mine) if mine else None

