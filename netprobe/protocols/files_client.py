"""The file protocol's client side, blocking: ``get`` and ``put`` with their checksums (bench transfer, tests)."""

from __future__ import annotations

import hashlib
import socket
import threading
import time

from netprobe.errors import ProtocolError
from netprobe.protocols import framing
from netprobe.protocols.files import CHUNK, SIZE_AND_SHA


def _read_exact(sock: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return bytes(data)


def read_frame(sock: socket.socket) -> bytes:
    """Read one whole frame from a blocking socket; ConnectionError if the peer closes first."""
    (length,) = framing.HEADER.unpack(_read_exact(sock, framing.HEADER.size))
    if not 0 < length <= framing.MAX_FRAME:
        raise ProtocolError(f"the server sent a frame of {length} bytes")
    return _read_exact(sock, length)


def _expect_ok(sock: socket.socket) -> tuple[int, bytes]:
    body = read_frame(sock)
    if body[:1] == b"X":
        raise ProtocolError(body[1:].decode("utf-8", "replace"))
    if body[:1] != b"O":
        raise ProtocolError(f"unexpected reply type {body[:1]!r}")
    return SIZE_AND_SHA.unpack(body[1:])


def get(sock: socket.socket, path: str) -> bytes:
    """Fetch ``path``; raise ProtocolError if the server refuses or the checksum is wrong."""
    sock.sendall(framing.encode(b"G" + path.encode()))
    size, sha = _expect_ok(sock)
    data = bytearray()
    while len(data) < size:
        body = read_frame(sock)
        if body[:1] != b"D":
            raise ProtocolError(f"unexpected frame type {body[:1]!r} in file data")
        data += body[1:]
    if len(data) != size or hashlib.sha256(data).digest() != sha:
        raise ProtocolError("the file arrived corrupt: sha256 does not match")
    return bytes(data)


def put(sock: socket.socket, path: str, data: bytes) -> None:
    """Upload ``data`` as ``path``; return once the server confirmed the checksum."""
    sha = hashlib.sha256(data).digest()
    sock.sendall(framing.encode(b"P" + SIZE_AND_SHA.pack(len(data), sha) + path.encode()))
    for start in range(0, len(data), CHUNK):
        sock.sendall(framing.encode(b"D" + data[start:start + CHUNK]))
    size, confirmed = _expect_ok(sock)
    if (size, confirmed) != (len(data), sha):
        raise ProtocolError("the server confirmed a different file")


def pipeline_gets(socks: list[socket.socket], done: threading.Event, path: str = "no such file.txt") -> None:
    """Send get requests on every socket as fast as the server reads them, reading no answer, until ``done``.

    The hostile client of the fairness checks (issue 20 #8): a path that does not exist is refused
    at once with a small ``X`` frame, so nothing (no file to hash) made a server pause between them.
    """
    requests = framing.encode(b"G" + path.encode()) * 64
    for sock in socks:
        sock.setblocking(False)
    while not done.is_set():
        for sock in socks:
            try:
                while sock.send(requests):
                    pass
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                return
        time.sleep(0.005)
