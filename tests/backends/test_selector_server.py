"""One contract, run against the selectors server on every selector this Python has."""

from __future__ import annotations

import json
import selectors
import socket
import subprocess
import sys
import threading
import time

import psutil
import pytest

from netprobe import platform
from netprobe.children import ChildOrder
from netprobe.servers.registry import ServerOptions
from netprobe.servers.selector_server import MAX_PENDING, QUIET_ACCEPTS, SelectorServer
from netprobe.servers.spec import ServerSpec
from netprobe.sockets import abort
from netprobe.vocabulary import ChildOp


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    """Read ``size`` bytes from a blocking socket with a timeout, or what came before the peer closed."""
    got = b""
    while len(got) < size:
        chunk = sock.recv(size - len(got))
        if not chunk:
            break
        got += chunk
    return got


class ServerContract:
    """Mixin: subclasses set SELECTOR to a selectors class name."""

    SELECTOR = ""

    @pytest.fixture
    def server(self):
        srv = SelectorServer(host="127.0.0.1", options=ServerOptions(selector_class=self.SELECTOR))
        thread = threading.Thread(target=srv.serve, daemon=True)
        thread.start()
        yield srv
        srv.stop()
        thread.join(5)
        srv.close()

    def _connect(self, srv, n):
        socks = []
        for _ in range(n):
            s = socket.create_connection(srv.addresses[0], timeout=5)
            socks.append(s)
        return socks

    @pytest.mark.parametrize("clients", [1, 50, 300])
    def test_echoes_to_every_client(self, server, clients):
        socks = self._connect(server, clients)
        try:
            for i, s in enumerate(socks):
                s.sendall(b"ping %d\n" % i)
            for i, s in enumerate(socks):
                expected = b"ping %d\n" % i
                assert _read_exactly(s, len(expected)) == expected
            assert server.status().held == clients
        finally:
            for s in socks:
                abort(s)

    def test_clients_that_speak_at_once_after_many_silent_ones_are_answered(self, server):
        # After a run of silent connections the server stops reading new ones as it accepts them;
        # a client that sends at once must still get its answer, and so must the silent ones.
        socks = self._connect(server, 2 * QUIET_ACCEPTS)
        try:
            for i in range(QUIET_ACCEPTS + 2):
                s = socket.create_connection(server.addresses[0], timeout=5)
                socks.append(s)
                expected = b"early %d\n" % i
                s.sendall(expected)
                assert _read_exactly(s, len(expected)) == expected
            for i, s in enumerate(socks[:2 * QUIET_ACCEPTS]):
                expected = b"late %d\n" % i
                s.sendall(expected)
                assert _read_exactly(s, len(expected)) == expected
            assert server.status().held == len(socks)
        finally:
            for s in socks:
                abort(s)

    def test_a_peer_that_closes_is_dropped(self, server):
        s = self._connect(server, 1)[0]
        s.close()
        deadline = time.monotonic() + 5
        while server.status().held and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.status().held == 0

    def test_closing_ends_every_connection_and_holds_none(self):
        srv = SelectorServer(host="127.0.0.1", options=ServerOptions(selector_class=self.SELECTOR))
        socks = []
        try:
            for _ in range(20):
                s = socket.create_connection(srv.addresses[0], timeout=5)
                socks.append(s)
                s.sendall(b"ping\n")
                while srv.status().held < len(socks):
                    srv.step(0.1)
                assert s.recv(64) == b"ping\n"
        finally:
            srv.close()
        try:
            assert srv.status().held == 0
            for s in socks:
                # A reset where the OS says so (Linux); Wine's Windows sockets read it as the end of the stream.
                try:
                    assert s.recv(64) == b""
                except ConnectionResetError:
                    pass
        finally:
            for s in socks:
                abort(s)

    def test_a_client_that_never_reads_gets_back_pressure(self, server):
        hog = self._connect(server, 1)[0]
        good = self._connect(server, 1)[0]
        try:
            hog.setblocking(False)
            sent = 0
            chunk = b"x" * 65536
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    sent += hog.send(chunk)
                except BlockingIOError:
                    time.sleep(0.05)  # the server stopped reading: the kernel buffers are full
                    try:
                        sent += hog.send(chunk)
                    except BlockingIOError:
                        break
            assert time.monotonic() < deadline, "the server kept reading from a peer that never reads"
            assert len(server.pending) == 1
            assert max(len(p) for p in server.pending.values()) < MAX_PENDING + 65536
            good.sendall(b"still there?")
            assert good.recv(64) == b"still there?"
        finally:
            abort(hog)
            abort(good)


@pytest.mark.skipif(not hasattr(selectors, "EpollSelector"), reason="no epoll")
class TestEpoll(ServerContract):
    SELECTOR = "EpollSelector"


@pytest.mark.skipif(not hasattr(selectors, "KqueueSelector"), reason="no kqueue")
class TestKqueue(ServerContract):
    SELECTOR = "KqueueSelector"


@pytest.mark.skipif(not hasattr(selectors, "DevpollSelector"), reason="no /dev/poll")
class TestDevpoll(ServerContract):
    SELECTOR = "DevpollSelector"


@pytest.mark.skipif(not hasattr(selectors, "PollSelector"), reason="no poll")
class TestPoll(ServerContract):
    SELECTOR = "PollSelector"


class TestSelect(ServerContract):
    SELECTOR = "SelectSelector"

    @pytest.mark.skipif(not platform.HAS_RLIMIT, reason="POSIX fd-number cap")
    def test_select_limit_is_recorded_with_the_exact_count_held(self, server):
        # The runner's soft limit is left alone: it is high enough to pass fd 1024 here.
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 2400:
            pytest.skip(f"soft fd limit {soft} too low to pass fd 1024 with both ends in one process")
        socks = []
        try:
            for _ in range(700):  # two fds each: the server's fd numbers pass 1024
                try:
                    socks.append(socket.create_connection(server.addresses[0], timeout=5))
                except ConnectionResetError:
                    break  # the server is shedding what select() cannot watch: the cap is met
            deadline = time.monotonic() + 5
            while server.status().limit is None and time.monotonic() < deadline:
                time.sleep(0.01)
            limit = server.status().limit
            assert limit is not None and limit.reason == "select_limit"
            assert "select" in limit.message
            assert limit.at_fd >= 1024
            held = server.status().held
            assert held == limit.held
            assert max(s.fileno() for s in server.connections()) < 1024  # select() can watch all it kept
            # It keeps serving what it holds.
            fds_of = {s.getsockname(): s for s in socks}
            for conn in server.connections()[:5]:
                client = fds_of[conn.getpeername()]
                client.sendall(b"hi")
                assert client.recv(8) == b"hi"
        finally:
            for s in socks:
                abort(s)


@pytest.mark.skipif(not platform.HAS_RLIMIT, reason="needs RLIMIT_NOFILE (POSIX)")
def test_emfile_on_accept_is_reported_and_does_not_spin():
    """In a child with a soft limit of 64, accept() hits EMFILE; the server says so and idles."""
    spec = ServerSpec(options=ServerOptions(selector_class="PollSelector"), fd_limit=64)
    child = subprocess.Popen([sys.executable, "-m", "netprobe.servers.child"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    socks = []
    try:
        child.stdin.write(spec.to_json() + "\n")
        child.stdin.flush()
        ready = json.loads(child.stdout.readline())
        address = tuple(ready["addresses"][0])
        for _ in range(80):
            socks.append(socket.create_connection(address, timeout=5))
        time.sleep(0.3)
        proc = psutil.Process(child.pid)
        cpu_before = sum(proc.cpu_times()[:2])
        time.sleep(1.0)
        cpu_spent = sum(proc.cpu_times()[:2]) - cpu_before
        child.stdin.write(ChildOrder(ChildOp.STATUS).to_json() + "\n")
        child.stdin.flush()
        status = json.loads(child.stdout.readline())
        assert status["limit"]["reason"] == "fd_limit"
        assert status["limit"]["errno"] == "EMFILE"
        assert status["held"] == status["limit"]["held"] == 64 - 4  # stdio (3) and the listener
        assert cpu_spent < 0.5, f"the server spent {cpu_spent:.2f} s of CPU in 1 s at EMFILE: it spins"
    finally:
        for s in socks:
            abort(s)
        child.stdin.close()
        child.wait(10)
        child.stdout.close()
