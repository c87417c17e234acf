"""Greenlets with gevent's cooperative sockets; nothing is monkey-patched.

gevent is imported when this client is created, never by ``netprobe`` itself, so commands
that do not use it pay nothing for it.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import Any, Optional

from netprobe.clients.base import Client, set_nodelay
from netprobe.clients.outcome import BatchOutcome
from netprobe.clients.pingpong import blocking_pingpong
from netprobe.vocabulary import Operation, Verify


class GeventClient(Client):
    """One greenlet per connection on gevent's sockets, without monkey-patching."""

    name = "gevent"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        import gevent
        import gevent.pool
        import gevent.socket

        self._gevent = gevent
        # Made inside a greenlet, the client runs on a hub its caller owns (a distributed worker's,
        # which locust's runner lives on): that hub must outlive it. Made in a thread's own main
        # greenlet, the hub is the client's alone, and it goes with the client.
        self._owns_hub = gevent.getcurrent().parent is None
        self._gsocket = gevent.socket
        self._pool_cls = gevent.pool.Pool
        self._all: list[Any] = []

    @property
    def sockets_open(self) -> int:
        """Sockets this client opened and has not closed yet, counted without asking the OS."""
        return len(self._all)

    def _echo(self, sock: Any) -> float:
        return self.roundtrip(sock)

    def _connection(self, dest: tuple[str, int], src: Optional[str], timeout: float) -> Any:
        gsocket = self._gsocket
        try:
            sock = gsocket.socket(self.family, gsocket.SOCK_STREAM)
        except OSError as exc:
            return Operation.SOCKET, exc, None
        self._all.append(sock)
        failed, error, latency = self.connect_and_check(sock, dest, src, timeout)
        if failed is None:
            self._hold(sock)
        return failed, error, latency

    def open(self, count: int, timeout: float, should_abort: Callable[[], bool]) -> BatchOutcome:
        out = BatchOutcome()
        # At most a backlog's worth of handshakes in flight, as the nonblocking client does.
        pool = self._pool_cls(self.batch)
        jobs = [pool.spawn(self._connection, *self._next_addresses(), timeout) for _ in range(count)]
        pool.join(timeout=timeout * (1 + count // self.batch) + 1.0)
        for job in jobs:
            if not job.ready():
                job.kill(block=False)
                out.unanswered += 1
                continue
            if not job.successful():
                out.fail(Operation.CONNECT, job.exception)
                continue
            out.tally(*job.value)
        return out

    def reverify(self, conns: list[Any], timeout: float) -> BatchOutcome:
        out = BatchOutcome()
        if self.verify == Verify.CONNECT:
            out.verified = len(conns)
            return out
        jobs = [self._gevent.spawn(self._echo, sock) for sock in conns]
        self._gevent.joinall(jobs, timeout=timeout)
        for job in jobs:
            if not job.ready():
                job.kill(block=False)
                out.unanswered += 1
            elif job.successful():
                out.verified += 1
                out.latencies_ms.append(job.value)
            else:
                out.fail(Operation.VERIFY, job.exception)
        return out

    def pingpong(self, payload: bytes, deadline: float, latencies: array[float]) -> tuple[int, int]:
        set_nodelay(self.verified)
        for sock in self.verified:
            sock.settimeout(None)
        jobs = [self._gevent.spawn(blocking_pingpong, s, payload, deadline, latencies) for s in self.verified]
        self._gevent.joinall(jobs)
        return sum(j.value[0] for j in jobs), sum(j.value[1] for j in jobs)

    def close(self) -> None:
        from netprobe.sockets import abort

        self._release_watch()
        for sock in self._all:
            abort(sock)
        self._all = []
        self.verified = []
        if self._owns_hub:
            # The hub holds its loop's fds (epoll, wake-up pipe) for the life of the thread otherwise.
            self._gevent.get_hub().destroy(destroy_loop=True)
