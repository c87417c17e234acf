"""What every client model shares: where to connect, how each connection is checked, and cleanup."""

from __future__ import annotations

import errno
import random
import selectors
import socket
import time
from abc import abstractmethod
from array import array
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Optional

from netprobe.clients.holder import ConnectionHolder
from netprobe.clients.outcome import BatchOutcome
from netprobe.clients.watch import HeldWatch, Sweep, printable, raw_socket
from netprobe.probes import MAX_REPLY, Probe
from netprobe.sockets import abort
from netprobe.vocabulary import Operation, Verify

if TYPE_CHECKING:
    from netprobe.clients.traffic import Tally, TrafficPlan

# connect_ex results that mean "in progress", on POSIX and Windows (WSAEWOULDBLOCK).
IN_PROGRESS = {0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN, getattr(errno, "WSAEWOULDBLOCK", 10035)}
# Linux only: bind() to a source address without reserving a port until connect() picks one,
# so binding many sockets to 127.0.0.x does not use up bind's port space.
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", None)
# Churned connections open at once, at most: past this many a server is not answering a rate, it is
# holding connections (which the ramp without --churn measures); and fds this process keeps spare.
CHURN_MOST_OPEN, CHURN_FD_MARGIN = 1000, 64


class Client(ConnectionHolder):
    """Opens connections to ``destinations`` round-robin, from ``source_ips`` round-robin."""

    name = "client"

    def __init__(self, destinations: list[tuple[str, int]], source_ips: Optional[list[str]],
                 payload: bytes, verify: str, batch: int, probe: Optional[Probe] = None) -> None:
        self.destinations = destinations
        self.source_ips = source_ips or []
        self.payload = payload
        self.verify = verify
        self.batch = max(1, batch)
        self.family = socket.AF_INET6 if ":" in destinations[0][0] else socket.AF_INET
        self.verified: list[Any] = []  # connections that passed their check, oldest first
        self._index = 0
        #: Keep this client's fds at or above this number (a select()-capped server shares the process).
        self.fd_floor: Optional[int] = None
        #: A request whose reply proves the server serves the connection, checked instead of the echo.
        self.probe = probe
        self._watch = HeldWatch()

    def _next_addresses(self) -> tuple[tuple[str, int], Optional[str]]:
        i = self._index
        self._index += 1
        dest = self.destinations[i % len(self.destinations)]
        src = self.source_ips[(i // len(self.destinations)) % len(self.source_ips)] if self.source_ips else None
        return dest, src

    def _bind_source(self, sock: socket.socket, src: Optional[str]) -> None:
        if src is None:
            return
        if IP_BIND_ADDRESS_NO_PORT is not None:
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((src, 0))

    def sample(self, count: int, exclude_newest: int) -> list[Any]:
        """Pick up to ``count`` older verified connections to check again (none where the check is a handshake)."""
        if self.probe is not None and not self.probe.repeatable:
            return []
        older = self.verified[: max(0, len(self.verified) - exclude_newest)]
        return random.sample(older, min(count, len(older)))

    def _request(self) -> bytes:
        """What a check sends: the probe's request, or the payload to be echoed."""
        return self.probe.request if self.probe is not None else self.payload

    def _reply_size(self, received: bytes) -> int:
        """How many more bytes to ask for: the rest of the echo, or a probe's reply of unknown length."""
        return MAX_REPLY if self.probe is not None else len(self.payload) - len(received)

    def _reply_complete(self, received: bytes) -> bool:
        """Whether the whole reply is in."""
        return self.probe.complete(received) if self.probe is not None else len(received) >= len(self.payload)

    def _reply_problem(self, received: bytes) -> Optional[str]:
        """None if a whole reply proves the connection is served, else what the server answered."""
        if self.probe is not None:
            return None if self.probe.ok(received) else (
                f'the server answered "{printable(received)}" to the {self.probe.name} probe')
        return None if received == self.payload else echo_mismatch(received)

    def roundtrip(self, sock: Any) -> float:
        """Check ``sock`` with blocking (or gevent) calls; return milliseconds.

        Raises ConnectionResetError if the peer closes, ValueError saying what it answered otherwise.
        """
        started = time.perf_counter()
        sock.sendall(self._request())
        received = b""
        while not self._reply_complete(received):
            chunk = sock.recv(self._reply_size(received))
            if not chunk:
                raise ConnectionResetError("the peer closed the connection")
            received += chunk
        problem = self._reply_problem(received)
        if problem is not None:
            raise ValueError(problem)
        return (time.perf_counter() - started) * 1000.0

    def connect_and_check(self, sock: Any, dest: tuple[str, int], src: Optional[str],
                          timeout: float) -> tuple[Optional[Operation], Optional[BaseException], Optional[float]]:
        """Connect a blocking ``sock`` (a thread's, or a greenlet's) and check it within ``timeout``.

        Returns (None, None, the check's latency in ms or None for a connect-only check), or the
        operation that failed and its error.
        """
        phase = Operation.CONNECT
        try:
            sock.settimeout(timeout)
            self._bind_source(sock, src)
            sock.connect(dest)
            phase = Operation.VERIFY
            latency = self.roundtrip(sock) if self.verify != Verify.CONNECT else None
        except TimeoutError as exc:  # gevent's socket.timeout is the same class
            return Operation.TIMEOUT, exc, None
        except (OSError, ValueError) as exc:
            return phase, exc, None
        return None, None, latency

    def traffic(self, plan: TrafficPlan, tally: Tally) -> None:
        """Send the check's request on every held connection on ``plan``'s schedule, whatever model opened them.

        One scheduler drives them all (``netprobe.clients.scheduled``), so the latency of every
        client model is measured alike; a model's own threads or greenlets stay idle meanwhile.
        """
        from netprobe.probes import parse_request

        complete: Callable[[bytes], bool]
        ok: Callable[[bytes], bool]
        if plan.request is not None:  # the user's own request: any reply counts
            request, complete, ok = parse_request(plan.request), bool, bool
        else:
            request = b"" if self.verify == Verify.CONNECT and self.probe is None else self._request()
            complete, ok = self._reply_complete, lambda r: self._reply_problem(r) is None
        if plan.churn:
            from netprobe.clients.churn import churn

            churn(self._new_socket, request, complete, ok, plan, self._select, tally, self._most_open())
            return
        from netprobe.clients.scheduled import drive

        set_nodelay(raw_socket(s) for s in self.verified)
        drive(self.verified, request or self._request(), complete, ok, plan, self._select, tally)

    def _new_socket(self) -> tuple[socket.socket, tuple[str, int]]:
        """A socket for the next connection of the round-robin, bound to its source address; and where it goes."""
        dest, src = self._next_addresses()
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        try:
            self._bind_source(sock, src)
        except OSError:
            sock.close()
            raise
        return sock, dest

    def _most_open(self) -> int:
        """How many churned connections may be open at once: what the fd limit leaves beside the held ones."""
        from netprobe import platform

        soft = platform.fd_limits()[0]
        room = CHURN_MOST_OPEN if soft is None else soft - self.held - CHURN_FD_MARGIN
        return max(1, min(CHURN_MOST_OPEN, room))

    def _select(self, sel: selectors.BaseSelector, timeout: float) -> list[tuple[selectors.SelectorKey, int]]:
        """Wait for events of ``sel``: the traffic's wait (a model with an inline server serves it meanwhile)."""
        return sel.select(timeout)

    def _hold(self, sock: Any) -> None:
        """Count ``sock`` as held: it passed its check; from now on a sweep notices the server closing it."""
        self.verified.append(sock)
        self._watch.add(sock)

    def sweep(self) -> Sweep:
        """Find every held connection the server closed or reset since it was checked, and let it go.

        One readiness call over all of them: a connection counts as held only while the server
        has accepted it and not closed it. What a server said before closing is kept.
        """
        found, gone = self._watch.sweep(self.verified)
        if gone:
            closed = {id(sock) for sock in gone}
            self.verified = [sock for sock in self.verified if id(sock) not in closed]
            abort_all(gone)
        return found

    def sweep_until_quiet(self, grace: float, wait: Callable[[float], object], pause: float = 0.05) -> Sweep:
        """Sweep; while sweeps keep finding closed connections, wait ``pause`` and sweep again, for up to ``grace``.

        A server at its cap accepts, then refuses a moment later: the first sweep sees only the
        refusals already sent, so a stop is counted only once the server has gone quiet.
        """
        found = self.sweep()
        deadline = time.monotonic() + grace
        while found.closed and time.monotonic() < deadline:
            wait(pause)
            more = self.sweep()
            if not more.closed:
                break
            found.closed += more.closed
            found.said = found.said or more.said
        return found

    def _release_watch(self) -> None:
        """Stop watching the held connections (their client closes them)."""
        self._watch.close()

    @property
    def held(self) -> int:
        """Connections that passed their check and are still held."""
        return len(self.verified)

    @property
    def pids(self) -> list[int]:
        """Child processes that hold this client's connections (none: this process holds them)."""
        return []

    def endpoints(self) -> Optional[list[tuple[str, int]]]:
        endpoints: list[tuple[str, int]] = []
        for sock in self.verified:
            try:
                endpoints.append(sock.getsockname()[:2])
            except OSError:
                pass  # reset meanwhile: the next sweep lets it go
        return endpoints

    @abstractmethod
    def open(self, count: int, timeout: float, should_abort: Callable[[], bool]) -> BatchOutcome:
        """Open and check ``count`` new connections; stop at the first error."""

    @abstractmethod
    def reverify(self, conns: list[Any], timeout: float) -> BatchOutcome:
        """Check again connections opened earlier."""

    @abstractmethod
    def pingpong(self, payload: bytes, deadline: float, latencies: array[float]) -> tuple[int, int]:
        """Echo ``payload`` back and forth on every held connection until ``deadline`` (perf_counter).

        Appends each round trip's milliseconds to ``latencies``; returns (round trips, connections
        that failed). ``bench echo`` measures servers with it.
        """

    @abstractmethod
    def close(self) -> None:
        """Close every connection abortively and release every resource."""

    def pump(self, server_step: Optional[Callable[[float], bool]]) -> None:
        """Drive a server that shares this thread: call ``server_step(timeout)`` while waiting for events.

        Only client models registered with ``drives_inline_server`` use it; the others ignore it.
        """


def set_nodelay(socks: Iterable[socket.socket]) -> None:
    """Send small echoes at once (no Nagle delay) on every socket, as a ping-pong load needs."""
    for sock in socks:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # already reset by the peer: the ping-pong will count it


def echo_roundtrip(sock: socket.socket, payload: bytes) -> float:
    """Send ``payload`` on a blocking (or gevent) socket and wait for it back; return milliseconds.

    Raises ConnectionResetError if the peer closes, ValueError if different bytes come back.
    """
    started = time.perf_counter()
    sock.sendall(payload)
    received = b""
    while len(received) < len(payload):
        chunk = sock.recv(len(payload) - len(received))
        if not chunk:
            raise ConnectionResetError("the peer closed the connection")
        received += chunk
    if received != payload:
        raise ValueError(echo_mismatch(received))
    return (time.perf_counter() - started) * 1000.0


def echo_mismatch(received: bytes) -> str:
    """What to say when the server answered something other than the echo: what it answered."""
    return f'the server answered "{printable(received)}" instead of the echo'


def abort_all(socks: Iterable[socket.socket]) -> None:
    """Close every socket abortively (RST), whatever state it is in."""
    for sock in socks:
        abort(sock)
