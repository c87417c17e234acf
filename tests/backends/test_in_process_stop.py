"""A backend serving in a thread of this process, stopped while it holds connections, closes every one.

The thread placement's server shares the test's fd table, so what it leaves open is this process's.
"""

from __future__ import annotations

import socket
import time

import psutil
import pytest

from netprobe.ramp.placement import InProcessServer
from netprobe.servers import gevent_server
from netprobe.servers.registry import BACKENDS, ServerOptions, backend_names
from netprobe.sockets import abort

CONNECTIONS = 500


def _held_by(server: InProcessServer, count: int) -> None:
    deadline = time.monotonic() + 30
    while server.status().held < count:
        assert time.monotonic() < deadline, f"the server holds {server.status().held} of {count}"
        time.sleep(0.01)


def _stopped_while_holding(backend: str) -> None:
    """Start ``backend`` in a thread, hold CONNECTIONS to it, stop it; check each ended and no fd is left."""
    me = psutil.Process()
    before = me.num_fds()
    server = InProcessServer(BACKENDS.get(backend), ServerOptions(), 1, inline=False)
    clients = []
    try:
        for _ in range(CONNECTIONS):
            clients.append(socket.create_connection(server.addresses[0], timeout=10))
        _held_by(server, CONNECTIONS)
    finally:
        server.close()
    try:
        # Each client's connection was closed by the server: its next read sees the end, not a wait.
        for client in clients:
            try:
                assert client.recv(1) == b""
            except ConnectionResetError:
                pass
        assert me.num_fds() == before + len(clients)
    finally:
        for client in clients:
            abort(client)


@pytest.mark.skipif(not hasattr(psutil.Process, "num_fds"), reason="counts fds where the OS has them")
@pytest.mark.parametrize("backend", [b for b in backend_names() if BACKENDS.get(b).available()])
def test_a_server_stopped_in_a_thread_closes_every_connection_it_held(backend):
    _stopped_while_holding(backend)


@pytest.mark.skipif(not hasattr(psutil.Process, "num_fds"), reason="counts fds where the OS has them")
@pytest.mark.skipif(not BACKENDS.get("gevent").available(), reason="gevent is not installed")
def test_gevent_closes_the_sockets_of_greenlets_that_had_no_time_to_end(monkeypatch):
    # No time at all for the killed greenlets: on a machine too busy to run them, their hub is
    # destroyed with them unfinished, and serve() closes their sockets itself.
    monkeypatch.setattr(gevent_server, "KILL_WAIT", 0)
    _stopped_while_holding("gevent")
