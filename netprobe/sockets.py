"""Small socket helpers every backend shares: abortive close and loopback checks."""

from __future__ import annotations

import _socket
import ipaddress
import socket
from typing import Any, cast

from netprobe import platform
from netprobe.errors import UsageError

# SO_LINGER on with a zero timeout: close() sends RST and leaves no TIME_WAIT entry, so
# a ramp of tens of thousands of connections does not block the next run's bind().
_LINGER_ZERO = platform.linger_zero()


def abort(sock: _socket.socket) -> None:
    """Close ``sock`` at once with RST, whatever state it is in."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
    except OSError:
        pass  # already reset or never connected: a plain close is all there is
    sock.close()


def accept_fast(listener: socket.socket, family: int) -> tuple[_socket.socket, Any]:
    """Accept one connection on ``listener``, a ``family`` listener, as the C socket type ``socket.socket`` extends.

    ``socket.accept()`` turns the listener's family and type into enums again for every
    connection, a third of a loopback accept's own CPU, and the ``socket.socket`` it returns runs
    a Python ``__init__`` and ``close()`` of its own. A server that holds its connections by the
    thousand and only reads, writes, sets options and closes them takes the C type instead: over
    interleaved ramps to 200,000 the opening steps took 2% less time and CPU. Raises what
    accept() raises; the new socket blocks, as accept()'s does when no default timeout is set.
    """
    fd, address = cast(Any, listener)._accept()
    return _socket.socket(family, socket.SOCK_STREAM, listener.proto, fd), address


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback literal (127.0.0.0/8, ::1) or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_host_port(text: str, option: str = "--target") -> tuple[str, int]:
    """Split ``HOST:PORT`` or ``[V6]:PORT``; the port must be 1-65535."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise UsageError(f"{option} {text!r} is not HOST:PORT")
    if host.startswith("["):
        if not host.endswith("]"):
            raise UsageError(f"{option} {text!r} is not HOST:PORT")
        host = host[1:-1]
    elif ":" in host:
        raise UsageError(f"{option} {text!r} is not HOST:PORT (write an IPv6 host as [::1]:PORT)")
    try:
        port = int(port_text)
    except ValueError:
        raise UsageError(f"{option} {text!r}: port {port_text!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise UsageError(f"{option} {text!r}: port {port} is outside 1-65535")
    return host, port


def format_address(address: tuple[str, int]) -> str:
    """``HOST:PORT``, with an IPv6 host in brackets: the spelling ``parse_host_port`` reads back."""
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def check_destination(host: str, allow_remote: bool, option: str = "--target") -> str:
    """Return ``host`` as an IP literal, refusing anything off loopback unless ``allow_remote``.

    Only IP literals and ``localhost`` are accepted: no name needs DNS.
    """
    if host == "localhost":
        return "127.0.0.1"
    if "%" in host:
        raise UsageError(f"{option} host {host!r}: a scoped IPv6 address (%zone) is not taken; give it without the "
                         "zone ([::1] for loopback)")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(f"{option} host {host!r} is not an IP address or 'localhost'") from None
    if not address.is_loopback and not allow_remote:
        raise UsageError(f"{option} {host} is not a loopback address; pass --allow-remote to use it")
    return str(address)


def local_source_ips(count: int, ipv6: bool = False, each: int = 1) -> list[list[str]]:
    """127.0.0.1, .2, ... 127.0.0.254, 127.0.1.1 ...: ``each`` of its own for each of ``count`` local processes.

    Only where the OS routes 127/8. Elsewhere, and for an IPv6 target (::1 is one address), no
    source address: every process then shares the one loopback address's ports.
    """
    if count > 1 and not ipv6 and platform.can_bind_loopback_aliases():
        return [[f"127.0.{i // 254}.{i % 254 + 1}" for i in range(p * each, (p + 1) * each)] for p in range(count)]
    return [[] for _ in range(count)]
