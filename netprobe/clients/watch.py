"""Every held connection in one kernel readiness set, so one call finds those the server closed.

A held connection that becomes readable has news: the server closed it (EOF), reset it, or said
something, often a refusal right before closing ("-ERR max number of clients reached"). A sweep
asks the kernel once for the readable ones (epoll, else poll; select() in chunks where there is
neither) and reads only those, so its cost follows what changed, not what is held.
"""

from __future__ import annotations

import select
import socket
from dataclasses import dataclass
from typing import Any, Optional

from netprobe.clients.outcome import HolderFailure

# Bytes of what a server said before closing that are kept for the verdict.
MAX_SAID = 160
READ_SIZE = 1024
READS_PER_SOCKET = 4  # a refusal is one short line; a server that streams is not closing
SELECT_CHUNK = 500  # Windows select() takes 512 sockets per list

_EPOLL_MASK = getattr(select, "EPOLLIN", 0) | getattr(select, "EPOLLRDHUP", 0)
_POLL_MASK = getattr(select, "POLLIN", 0) | getattr(select, "POLLRDHUP", 0)


@dataclass
class Sweep:
    """What one sweep over the held connections found."""

    closed: int = 0  # connections the server closed or reset since they were verified
    said: Optional[str] = None  # the first words a server sent before closing one, printable and bounded
    lost: Optional[HolderFailure] = None  # a process holding connections was lost meanwhile (spread ramps)


def printable(data: bytes) -> str:
    """Bytes a server sent, as text fit for a one-line verdict: decoded, control characters escaped, bounded."""
    text = data[:MAX_SAID].decode("utf-8", "replace").strip()
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def raw_socket(sock: Any) -> socket.socket:
    """The operating system's socket behind ``sock`` (gevent wraps one)."""
    inner = getattr(sock, "_sock", None)
    return inner if isinstance(inner, socket.socket) else sock


def _closed(sock: Any) -> tuple[bool, bytes]:
    """Read what is waiting on ``sock`` without blocking: (whether the server closed it, what it said)."""
    raw = raw_socket(sock)
    timeout = raw.gettimeout()
    raw.setblocking(False)
    said = b""
    try:
        for _ in range(READS_PER_SOCKET):
            try:
                data = raw.recv(READ_SIZE)
            except (BlockingIOError, InterruptedError):
                return False, said  # open: what it said was not a goodbye
            except OSError:
                return True, said  # reset
            if not data:
                return True, said  # EOF
            said += data
        return False, said
    finally:
        if raw.fileno() != -1:
            raw.settimeout(timeout)


class HeldWatch:
    """The held connections, registered once each with the kernel, swept in one call per check.

    It keeps no map of its own from fd to socket (that would cost every held connection a dict
    entry): a sweep that finds something builds one from the client's list of held sockets.
    """

    def __init__(self) -> None:
        self._epoll: Optional[Any] = select.epoll() if hasattr(select, "epoll") else None
        self._poll: Optional[Any] = select.poll() if self._epoll is None and hasattr(select, "poll") else None

    def add(self, sock: Any) -> None:
        """Watch ``sock`` from now on."""
        if self._epoll is not None:
            self._epoll.register(sock.fileno(), _EPOLL_MASK)
        elif self._poll is not None:
            self._poll.register(sock.fileno(), _POLL_MASK)

    def _forget(self, fd: int) -> None:
        try:
            if self._epoll is not None:
                self._epoll.unregister(fd)
            elif self._poll is not None:
                self._poll.unregister(fd)
        except (OSError, KeyError):
            pass

    def _ready(self, held: list[Any]) -> list[int]:
        if self._epoll is not None:
            return [fd for fd, _ in self._epoll.poll(0)]
        if self._poll is not None:
            return [fd for fd, _ in self._poll.poll(0)]
        fds = [sock.fileno() for sock in held]
        ready: list[int] = []
        for start in range(0, len(fds), SELECT_CHUNK):
            readable, _, _ = select.select(fds[start:start + SELECT_CHUNK], [], [], 0)
            ready += readable
        return ready

    def sweep(self, held: list[Any]) -> tuple[Sweep, list[Any]]:
        """Find which of ``held`` the server closed: (what was found, those sockets, no longer watched)."""
        found = Sweep()
        gone = []
        ready = self._ready(held)
        by_fd = {sock.fileno(): sock for sock in held} if ready else {}
        for fd in ready:
            sock = by_fd.get(fd)
            if sock is None:
                self._forget(fd)  # not held any more (closed by its client): nothing to watch
                continue
            closed, said = _closed(sock)
            if said and found.said is None:
                found.said = printable(said)
            if closed:
                found.closed += 1
                gone.append(sock)
                self._forget(fd)
        return found, gone

    def close(self) -> None:
        """Stop watching; the sockets themselves are their client's to close."""
        if self._epoll is not None:
            self._epoll.close()
