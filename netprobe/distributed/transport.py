"""locust's master and worker runners, with the run's CURVE keys on their sockets and bounded waits.

Imported only in the master and worker processes: it imports locust (with its monkey-patching off)
and pyzmq. locust builds and connects its ZeroMQ sockets in its runners' constructors, before
options can be set on them; these subclasses secure each socket right after, and again whenever
locust rebuilds one, by binding or connecting it once more with the keys in place. Nothing has
crossed the socket by then: the master's workers start after it listens, and a worker secures
its socket before its first message.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import threading
import time
from typing import Any, Optional

from netprobe.distributed import import_locust

import_locust()

import zmq  # noqa: E402  (locust first: its import sets up gevent without patching)
from locust.runners import MasterRunner, WorkerRunner  # noqa: E402
from zmq.auth import Authenticator  # noqa: E402

from netprobe.distributed.secret import ZAP_DOMAIN, CurveKeys  # noqa: E402

REBIND_WAIT = 2.0  # seconds to wait for ZeroMQ to let go of the master's port between unbind and bind
ACK_WAIT = 1.0  # seconds between a worker's hellos to locust's master while it waits for an answer
HANDSHAKE_WAIT_MS = 5000  # ms a peer has to complete CURVE's handshake with the master
ZAP_POLL_MS = 100  # how often the authentication thread looks up from its socket to see whether it should stop


# What the master's socket monitor reports: a connection, its handshake done, its end.
_WATCHED = zmq.EVENT_ACCEPTED | zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED


class _Gatekeeper:
    """ZeroMQ's authentication handler: admits the run's worker key only; counts connections turned away.

    A peer with the wrong key fails CURVE's handshake before the handler is ever asked, and one
    that is not ZeroMQ fails its greeting, so the count comes from the socket's monitor: every
    connection accepted that ended without completing the handshake.
    """

    def __init__(self, keys: CurveKeys) -> None:
        self.keys = keys
        self.turned_away = 0
        self._handshaking: set[int] = set()

    def callback(self, domain: str, key: bytes) -> bool:
        """Whether a peer that completed CURVE's handshake holds the run's worker key."""
        return domain == ZAP_DOMAIN and hmac.compare_digest(key, self.keys.client_public)

    def on_event(self, event: int, fd: int) -> None:
        """One event of the master socket's monitor, for the connection on ``fd``."""
        if event == zmq.EVENT_ACCEPTED:
            self._handshaking.add(fd)
        elif event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            self._handshaking.discard(fd)
        elif event == zmq.EVENT_DISCONNECTED and fd in self._handshaking:
            self._handshaking.discard(fd)
            self.turned_away += 1


class _AuthenticationThread:
    """pyzmq's ZAP authenticator and the master socket's monitor, served from a thread of their own, on any OS.

    pyzmq's ThreadAuthenticator waits on asyncio's default loop, which on Windows is the proactor:
    it has no add_reader, so there pyzmq needs tornado, and without it the thread dies at its
    first poll and every worker's handshake goes unanswered. This thread waits with ZeroMQ's own
    poller instead; the authenticator's coroutine only computes and replies, so a loop of any
    kind runs it.
    """

    def __init__(self, context: zmq.Context[Any], gatekeeper: _Gatekeeper, monitor: str) -> None:
        self.gatekeeper = gatekeeper
        self.authenticator = Authenticator(context)
        self.authenticator.configure_curve_callback(ZAP_DOMAIN, credentials_provider=gatekeeper)
        self.monitor = context.socket(zmq.PAIR)
        self.monitor.linger = 0
        self.monitor.connect(monitor)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="netprobe-zap", daemon=True)

    def start(self) -> None:
        """Bind ZeroMQ's authentication socket, then answer on it until stopped."""
        self.authenticator.start()
        self._thread.start()

    def stop(self) -> None:
        """Stop answering and close the sockets."""
        self._stopping.set()
        self._thread.join()
        self.authenticator.stop()
        self.monitor.close()

    def _serve(self) -> None:
        from zmq.utils.monitor import parse_monitor_message

        zap = self.authenticator.zap_socket
        poller = zmq.Poller()
        poller.register(zap, zmq.POLLIN)
        poller.register(self.monitor, zmq.POLLIN)
        loop = asyncio.new_event_loop()
        try:
            while not self._stopping.is_set():
                ready = dict(poller.poll(ZAP_POLL_MS))
                if zap in ready:
                    loop.run_until_complete(self.authenticator.handle_zap_message(zap.recv_multipart()))
                if self.monitor in ready:
                    event = parse_monitor_message(self.monitor.recv_multipart())
                    self.gatekeeper.on_event(int(event["event"]), int(event["value"]))
        finally:
            loop.close()


class SecureMasterRunner(MasterRunner):
    """locust's master whose listening socket admits only peers holding the run's secret."""

    def __init__(self, environment: Any, host: str, port: int, keys: CurveKeys) -> None:
        self.keys = keys
        self.gatekeeper = _Gatekeeper(keys)
        self._authenticator: Optional[_AuthenticationThread] = None
        super().__init__(environment, host, port)
        environment.runner = self
        self._secure()

    @property
    def denied(self) -> int:
        """Connections that never completed the run's handshake: nothing they sent was read."""
        return self.gatekeeper.turned_away

    def _secure(self) -> None:
        socket = self.server.socket
        if self._authenticator is not None:
            self._authenticator.stop()
        # The handler must live in the socket's own ZeroMQ context; a plain (not gevent) view of it
        # runs in a thread of its own, which answers while the master's greenlets wait.
        monitor = f"inproc://netprobe-monitor-{id(socket)}"
        socket.monitor(monitor, _WATCHED)
        self._authenticator = _AuthenticationThread(zmq.Context.shadow(socket.context.underlying), self.gatekeeper,
                                                    monitor)
        self._authenticator.start()
        # A peer that has not finished its handshake in this time is dropped: idle strangers cannot
        # hold the master's fds for ZeroMQ's default 30 s (at EMFILE its I/O thread spins on accept).
        socket.handshake_ivl = HANDSHAKE_WAIT_MS
        socket.zap_domain = ZAP_DOMAIN.encode()
        socket.curve_server = True
        socket.curve_secretkey = self.keys.server_secret
        socket.curve_publickey = self.keys.server_public
        endpoint = socket.getsockopt_string(zmq.LAST_ENDPOINT)
        socket.unbind(endpoint)
        # ZeroMQ closes the old listener in its I/O thread: the port may stay busy for a moment.
        deadline = time.monotonic() + REBIND_WAIT
        while True:
            try:
                socket.bind(endpoint)
                return
            except zmq.ZMQError as exc:
                if exc.errno != errno.EADDRINUSE or time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)

    def reset_connection(self) -> None:
        """Rebuild locust's server socket, then secure the new one."""
        super().reset_connection()
        self._secure()

    def shutdown(self) -> None:
        """Stop locust's runner and the authentication thread."""
        self.quit()
        if self._authenticator is not None:
            self._authenticator.stop()
            self._authenticator = None


class SecureWorkerRunner(WorkerRunner):
    """locust's worker that speaks CURVE with the run's keys and waits a bounded time for its master."""

    def __init__(self, environment: Any, host: str, port: int, keys: CurveKeys, wait: float) -> None:
        self.keys = keys
        self.wait = wait
        super().__init__(environment, host, port)
        environment.runner = self

    def _secure(self) -> None:
        socket = self.client.socket
        socket.curve_serverkey = self.keys.server_public
        socket.curve_publickey = self.keys.client_public
        socket.curve_secretkey = self.keys.client_secret
        endpoint = socket.getsockopt_string(zmq.LAST_ENDPOINT)
        socket.disconnect(endpoint)
        socket.connect(endpoint)

    def connect_to_master(self) -> None:
        """Say hello until the master answers, for at most the worker's wait (locust alone would try for 5 minutes).

        Something that is not this run's master (another program on the port, a master of another
        run, an HTTP server) never completes the handshake, so it never answers and a hello cannot
        even be queued: ConnectionError once the wait is over.
        """
        self._secure()
        deadline = time.monotonic() + self.wait
        while True:
            try:  # straight to the socket: locust's send retries for 9 s and then raises
                self.client.socket.send(self._hello().serialize(), zmq.NOBLOCK)
            except zmq.ZMQError:
                pass  # no peer has completed the handshake yet (or ever will): the deadline decides
            if self.connection_event.wait(timeout=min(ACK_WAIT, max(0.0, deadline - time.monotonic()))):
                self.connected = True
                return
            if time.monotonic() >= deadline:
                raise ConnectionError(f"no master of this run answered within {self.wait:g} s")

    def _hello(self) -> Any:
        from locust import __version__
        from locust.rpc import Message

        return Message("client_ready", __version__, self.client_id)

    def reset_connection(self) -> None:
        """Rebuild locust's client socket, then secure the new one."""
        super().reset_connection()
        self._secure()
