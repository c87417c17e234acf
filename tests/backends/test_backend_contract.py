"""One contract for every server backend: each a three-line subclass, each served from a child process.

The server runs in a child (as `serve` and `bench` run it), so its fds, limits and memory are
its own, and a backend that misbehaves cannot take the test runner with it.
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import threading
import time

import psutil
import pytest

from netprobe import platform
from netprobe.errors import ProtocolError
from netprobe.protocols import framing
from netprobe.protocols.files import SIZE_AND_SHA
from netprobe.protocols.files_client import get, pipeline_gets, put, read_frame
from netprobe.servers.process import ChildServer
from netprobe.servers.registry import BACKENDS, BackendSpec, ServerOptions, backend_names
from netprobe.servers.spec import ServerSpec
from netprobe.sockets import abort
from netprobe.vocabulary import ProtocolName

ECHO_PAYLOAD = b"ping from netprobe\n"
# A normal get slower than this next to hostile clients is starved (unfixed, it waited 30 s and more).
STARVED = 10.0
# A ping beside streaming clients: every backend answers in milliseconds; gevent took 3.4-6 s before the fix.
PING_STARVED = 2.0
PINGS = 3  # starving is systematic (every ping waits); a busy CI slows one now and then


def _stream(sock: socket.socket, done: threading.Event) -> None:
    """Send 64 KiB chunks and read back whatever comes, as fast as possible, until ``done``."""
    chunk = b"x" * 65536
    sock.setblocking(False)
    while not done.is_set():
        ready = select.select([sock], [sock], [], 0.1)
        try:
            if ready[0]:
                sock.recv(1 << 20)
            if ready[1]:
                sock.send(chunk)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            return


def _connect(address, n: int) -> list[socket.socket]:
    socks = []
    try:
        for _ in range(n):
            socks.append(socket.create_connection(address, timeout=10))
    except BaseException:
        for s in socks:
            abort(s)
        raise
    return socks


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _serves_then_idles(server):
    """A normal get is answered; once its client resets, the server holds nothing within 5 s: its status then."""
    good = _connect(server.addresses[0], 1)[0]
    assert get(good, "hello.txt").startswith(b"hello from the root")
    abort(good)
    deadline = time.monotonic() + 5
    status = server.status()
    while status.held and time.monotonic() < deadline:
        time.sleep(0.02)
        status = server.status()
    return status


class BackendContract:
    """Mixin: subclasses set BACKEND."""

    BACKEND = ""

    def start(self, protocol: str, root=None, fd_limit=None, loop=None):
        return ChildServer(ServerSpec(backend=BACKENDS.get(self.BACKEND), protocol=ProtocolName(protocol),
                                      options=ServerOptions(loop=loop), root=None if root is None else str(root),
                                      fd_limit=fd_limit, want_fds=2048))

    def loops(self) -> list:
        """Its default loop (None) and every other event loop it can run on here (uvloop, gevent's libuv ...)."""
        spec = BACKENDS.get(self.BACKEND)
        if not spec.takes_loop:
            return [None]
        names = spec.loop_names()
        default = names.default_loop()
        return [None, *(n for n in names.available_loops() if n not in ("default", default))]

    @pytest.fixture
    def root(self, tmp_path):
        served = tmp_path / "root"
        served.mkdir()
        (served / "hello.txt").write_bytes(b"hello from the root\n" * 1000)
        (tmp_path / "outside.txt").write_bytes(b"secret")
        try:
            os.symlink(tmp_path / "outside.txt", served / "link-out")
        except OSError:
            pass  # Windows without the privilege to make symlinks: that case is skipped
        return served

    @pytest.mark.parametrize("clients", [1, 50, 500])
    @pytest.mark.parametrize("protocol", ["echo", "upper"])
    def test_answers_every_client(self, protocol, clients):
        server = self.start(protocol)
        socks = []
        try:
            socks = _connect(server.addresses[0], clients)
            for s in socks:
                s.sendall(ECHO_PAYLOAD)
            expected = ECHO_PAYLOAD if protocol == "echo" else ECHO_PAYLOAD.upper()
            for s in socks:
                assert _recv_exact(s, len(expected)) == expected
            status = server.status()
            assert status.held == clients and status.errors == 0
        finally:
            for s in socks:
                abort(s)
            server.close()

    @pytest.mark.parametrize("clients", [1, 50])
    def test_file_get_and_put_with_checksums(self, root, clients):
        server = self.start("file", root)
        socks = []
        try:
            socks = _connect(server.addresses[0], clients)
            original = (root / "hello.txt").read_bytes()
            for i, s in enumerate(socks):
                assert get(s, "hello.txt") == original
                put(s, f"copy-{i}.txt", original[::-1])
            for i in range(clients):
                assert (root / f"copy-{i}.txt").read_bytes() == original[::-1]
            assert not [p for p in os.listdir(root) if p.startswith(".netprobe-upload-")]
        finally:
            for s in socks:
                abort(s)
            server.close()

    def test_file_500_concurrent_get_put_none_corrupt(self):
        from netprobe.bench.transfer_bench import run_bench_transfer

        result = run_bench_transfer(BACKENDS.get(self.BACKEND), 500, 64 * 1024)
        assert (result.completed, result.failed, result.corrupt) == (500, 0, 0), result.errors

    @pytest.mark.parametrize("path, reason", [
        ("../outside.txt", "'..' in path"),
        ("/etc/passwd", "absolute path"),
        ("link-out", "outside the root"),
        ("a\0b", "NUL byte"),
        ("x" * 300, "name longer than 255"),
        ("missing.txt", "no such file"),
    ])
    def test_file_paths_are_confined_to_the_root(self, root, path, reason):
        if path == "link-out" and not (root / "link-out").is_symlink():
            pytest.skip("this system would not make a symlink")
        server = self.start("file", root)
        sock = _connect(server.addresses[0], 1)[0]
        try:
            with pytest.raises(ProtocolError, match=reason):
                get(sock, path)
            with pytest.raises(ProtocolError):
                put(sock, path.replace("missing", "../escaped"), b"evil")
            # The connection goes on after a refusal.
            assert get(sock, "hello.txt").startswith(b"hello from the root")
        finally:
            abort(sock)
            server.close()
        assert not (root.parent / "escaped.txt").exists()
        assert (root.parent / "outside.txt").read_bytes() == b"secret"

    def test_an_aborted_upload_leaves_nothing_at_its_name(self, root):
        server = self.start("file", root)
        try:
            sock = _connect(server.addresses[0], 1)[0]
            data = os.urandom(300_000)
            import hashlib

            sock.sendall(framing.encode(b"P" + SIZE_AND_SHA.pack(len(data), hashlib.sha256(data).digest())
                                        + b"half.bin"))
            sock.sendall(framing.encode(b"D" + data[:65536]))
            time.sleep(0.2)
            abort(sock)  # RST mid-upload
            deadline = time.monotonic() + 5
            while server.status().held and time.monotonic() < deadline:
                time.sleep(0.02)
            assert not (root / "half.bin").exists()
            assert not [p for p in os.listdir(root) if p.startswith(".netprobe-upload-")]
            # A corrupt upload (wrong checksum) is refused and not stored either.
            sock = _connect(server.addresses[0], 1)[0]
            sock.sendall(framing.encode(b"P" + SIZE_AND_SHA.pack(4, b"\0" * 32) + b"bad.bin"))
            sock.sendall(framing.encode(b"D" + b"evil"))
            reply = read_frame(sock)
            assert reply[:1] == b"X" and b"sha256" in reply
            assert not (root / "bad.bin").exists()
            abort(sock)
        finally:
            server.close()

    def test_hostile_clients_do_not_stall_a_good_one(self, root):
        server = self.start("file", root)
        proc = psutil.Process(server.pid)
        rss_before = proc.memory_info().rss
        hostile = []
        try:
            address = server.addresses[0]
            good = _connect(address, 1)[0]
            garbage, oversized, partial, hog = _connect(address, 4)
            hostile = [garbage, oversized, partial, hog]
            garbage.sendall(b"\x00\x00\x00\x05Zjunk")  # a frame of an unknown type
            oversized.sendall(b"\xff\xff\xff\xff")  # a 4 GiB length prefix
            partial.sendall(b"\x00\x00\x10\x00G")  # slowloris: a frame that never completes
            # A client that asks for the file over and over and never reads the answers.
            hog.setblocking(False)
            request = framing.encode(b"G" + b"hello.txt")
            for _ in range(2000):
                try:
                    hog.send(request)
                except BlockingIOError:
                    break
            for bad in (garbage, oversized):
                bad.settimeout(5)
                assert read_frame(bad)[:1] == b"X"
                with pytest.raises((ConnectionError, EOFError)):  # and closed (with RST)
                    if bad.recv(10) == b"":
                        raise EOFError
            for _ in range(20):
                assert get(good, "hello.txt").startswith(b"hello from the root")
            assert proc.memory_info().rss - rss_before < 32 * 1024 * 1024
            abort(good)
        finally:
            for s in hostile:
                abort(s)
            server.close()

    @pytest.mark.slow
    def test_a_normal_client_is_served_next_to_eight_that_ask_and_never_read(self, root):
        """Per-connection work per loop turn is bounded: hogs that pipeline gets cannot starve a normal client.

        Before the fix a normal get waited 4.9-7.5 s next to one such client on asyncio, uvloop and
        gevent, and was not served within 30 s next to eight. The bound here only catches that
        starvation, with room for a loaded machine (the Windows lane beside two Linux lanes on two
        cores once took 3.7 s); benchmarks/hostile_fairness.py measures the latency against the 0.5 s goal.
        """
        for loop in self.loops():
            server = self.start("file", root, loop=loop)
            hogs = _connect(server.addresses[0], 8)
            good = _connect(server.addresses[0], 1)[0]
            done = threading.Event()
            flood = threading.Thread(target=pipeline_gets, args=(hogs, done))
            waits = []
            try:
                flood.start()
                time.sleep(0.5)  # the hogs' requests pile up first
                good.settimeout(30)
                deadline = time.monotonic() + 2
                while time.monotonic() < deadline:
                    started = time.perf_counter()
                    assert get(good, "hello.txt").startswith(b"hello from the root")
                    waits.append(time.perf_counter() - started)
            finally:
                done.set()
                flood.join()
                for s in (*hogs, good):
                    abort(s)
                server.close()
            assert max(waits) < STARVED, f"{self.BACKEND} {loop or ''}: a normal get waited up to {max(waits):.1f} s"

    @pytest.mark.parametrize("protocol", ["echo", "upper"])
    def test_a_normal_client_is_answered_next_to_eight_that_stream_as_fast_as_they_can(self, protocol):
        """A stateless reply path yields between clients: eight streaming 64 KiB chunks cannot starve a ping.

        Before the fix the gevent backend answered the ping after 3.4-6.0 s (upper) and up to
        3.5 s (echo): its blocking session loop never let the other greenlets run while the
        streams kept its socket readable. The bound only catches that, with room for a loaded machine,
        and judges the least of three pings' waits (a busy CI once held asyncio's upper for 2.3 s).
        """
        for loop in self.loops():
            server = self.start(protocol, loop=loop)
            streams = _connect(server.addresses[0], 8)
            good = _connect(server.addresses[0], 1)[0]
            done = threading.Event()
            threads = [threading.Thread(target=_stream, args=(s, done)) for s in streams]
            try:
                for t in threads:
                    t.start()
                time.sleep(0.5)
                good.settimeout(30)
                waits, replies = [], []
                for _ in range(PINGS):
                    started = time.perf_counter()
                    good.sendall(b"ping\n")
                    replies.append(good.recv(16))
                    waits.append(time.perf_counter() - started)
                reply, waited = replies[0], min(waits)  # a loaded machine only adds to a wait: the least tells
            finally:
                done.set()
                for t in threads:
                    t.join()
                for s in (*streams, good):
                    abort(s)
                server.close()
            assert reply.lower().startswith(b"ping"), reply
            assert waited < PING_STARVED, f"{self.BACKEND} {loop or ''} {protocol}: a ping waited {waited:.1f} s"

    def test_clients_that_reset_with_replies_due_leave_the_server_silent(self, root):
        """Replies due to a connection that was reset are dropped, never written to it (asyncio logged each try)."""
        server = self.start("file", root)
        try:
            for _ in range(10):
                sock = _connect(server.addresses[0], 1)[0]
                sock.sendall(framing.encode(b"G" + b"hello.txt") * 400)  # ~8 MB of replies due
                time.sleep(0.02)
                abort(sock)  # RST while they are being written
            _serves_then_idles(server)
            said = server.stderr_text()
        finally:
            server.close()
        assert "raised exception" not in said and "Traceback" not in said, said[-2000:]

    def test_clients_that_reset_before_being_accepted_leave_the_server_serving_and_silent(self, root):
        """A connection reset while it waits in the accept queue is its peer's affair, not an error.

        Windows fails such an accept (Wine: WSAENOTCONN; the proactor's AcceptEx: ERROR_NETNAME_DELETED
        or Wine's ERROR_UNEXP_NET_ERR): the select servers died of it, and asyncio logged each one.
        """
        server = self.start("file", root)
        try:
            for _ in range(100):
                abort(socket.create_connection(server.addresses[0], timeout=10))
            status = _serves_then_idles(server)
            said = server.stderr_text()
        finally:
            server.close()
        assert status.held == 0 and status.errors == 0, status
        assert "Traceback" not in said and "exception" not in said, said[-2000:]

    def test_a_peer_that_never_reads_gets_back_pressure(self):
        server = self.start("echo")
        proc = psutil.Process(server.pid)
        rss_before = proc.memory_info().rss
        socks = []
        try:
            hog, good = socks = _connect(server.addresses[0], 2)
            hog.setblocking(False)
            chunk = b"x" * 65536
            sent, deadline = 0, time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    sent += hog.send(chunk)
                except BlockingIOError:
                    time.sleep(0.1)
                    try:
                        sent += hog.send(chunk)
                    except BlockingIOError:
                        break
            assert time.monotonic() < deadline, "the server kept reading from a peer that never reads"
            good.sendall(b"still there?")
            assert _recv_exact(good, 12) == b"still there?"
            assert proc.memory_info().rss - rss_before < 32 * 1024 * 1024
        finally:
            for s in socks:
                abort(s)
            server.close()

    @pytest.mark.skipif(not platform.HAS_RLIMIT, reason="needs RLIMIT_NOFILE")
    def test_emfile_on_accept_is_reported_and_survived(self):
        server = self.start("echo", fd_limit=48)
        proc = psutil.Process(server.pid)
        socks = []
        try:
            socks = _connect(server.addresses[0], 60)
            time.sleep(0.5)
            cpu = sum(proc.cpu_times()[:2])
            time.sleep(1.0)
            assert sum(proc.cpu_times()[:2]) - cpu < 0.5, "the server spins at EMFILE"
            status = server.status()
            assert status.limit.reason == "fd_limit" and status.limit.errno == "EMFILE"
            held = status.held
            assert 30 <= held < 48
            # The connections it holds are still served ...
            socks[0].sendall(b"alive?")
            assert _recv_exact(socks[0], 6) == b"alive?"
            # ... and once fds free up, it accepts the ones still waiting.
            for s in socks[:20]:
                abort(s)
            del socks[:20]
            deadline = time.monotonic() + 10
            while server.status().accepted < 60 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert server.status().accepted == 60
            socks[-1].sendall(b"late")
            assert _recv_exact(socks[-1], 4) == b"late"
        finally:
            for s in socks:
                abort(s)
            server.close()


    # --- reliability (issue 13): each test is named after the defect it pins down

    def test_put_onto_a_directory_is_that_clients_error(self, root):
        (root / "adir").mkdir()
        server = self.start("file", root)
        try:
            for _ in range(3):
                sock = _connect(server.addresses[0], 1)[0]
                with pytest.raises(ProtocolError, match="directory"):
                    put(sock, "adir", b"payload")
                put(sock, "fine.bin", b"after the refusal")  # the connection goes on
                abort(sock)
            assert server.status().limit is None and (root / "fine.bin").read_bytes() == b"after the refusal"
            assert not [p for p in os.listdir(root) if p.startswith(".netprobe-upload-")]
        finally:
            server.close()

    def test_put_on_a_full_disk_is_that_clients_error(self, tmp_path):
        small = tmp_path / "small"
        small.mkdir()
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)],
                                 capture_output=True).returncode == 0 if shutil.which("mount") else False
        if not mounted:
            pytest.skip("cannot mount a 1 MiB tmpfs here (needs root and mount)")
        try:
            server = self.start("file", small)
            try:
                sock = _connect(server.addresses[0], 1)[0]
                with pytest.raises(ProtocolError, match="filesystem error"):
                    put(sock, "big.bin", os.urandom(2 * 1024 * 1024))
                put(sock, "small.bin", b"x" * 1000)  # still served, and the disk has room again
                abort(sock)
                deadline = time.monotonic() + 5
                while server.status().held and time.monotonic() < deadline:
                    time.sleep(0.02)  # a session's errors are counted once its connection is gone
                assert not [p for p in os.listdir(small) if p.startswith(".netprobe-upload-")]
                assert server.status().errors >= 1
            finally:
                server.close()
        finally:
            subprocess.run(["umount", str(small)], check=True)

    def test_requests_never_read_pin_bounded_memory(self, root):
        server = self.start("file", root)
        proc = psutil.Process(server.pid)
        rss_before = proc.memory_info().rss
        hog = _connect(server.addresses[0], 1)[0]
        try:
            hog.setblocking(False)
            request = framing.encode(b"G" + b"\xff") * 4096  # refused at once, each an X frame
            deadline, sent = time.monotonic() + 3, 0
            while time.monotonic() < deadline:
                try:
                    sent += hog.send(request)
                except BlockingIOError:
                    time.sleep(0.05)
            assert proc.memory_info().rss - rss_before < 16 * 1024 * 1024, f"{sent:,} bytes of requests sent"
            good = _connect(server.addresses[0], 1)[0]
            assert get(good, "hello.txt").startswith(b"hello from the root")
            abort(good)
        finally:
            abort(hog)
            server.close()

    @pytest.mark.parametrize("protocol, size", [("echo", 200_000), ("upper", 4_000_000)])
    def test_a_half_closed_client_gets_every_reply(self, protocol, size):
        server = self.start(protocol)
        sock = _connect(server.addresses[0], 1)[0]
        try:
            payload = b"y" * size
            sender = threading.Thread(target=lambda: (sock.sendall(payload), sock.shutdown(socket.SHUT_WR)))
            sender.start()
            got = bytearray()
            while chunk := sock.recv(65536):
                got += chunk
            sender.join()
            assert len(got) == size and got == (payload if protocol == "echo" else payload.upper())
        finally:
            abort(sock)
            server.close()

    def test_a_half_closed_get_receives_the_whole_file(self, root):
        (root / "mib.bin").write_bytes(os.urandom(1024 * 1024))
        server = self.start("file", root)
        sock = _connect(server.addresses[0], 1)[0]
        try:
            sock.sendall(framing.encode(b"G" + b"mib.bin"))
            sock.shutdown(socket.SHUT_WR)
            frames = 0
            body = read_frame(sock)
            size, _ = SIZE_AND_SHA.unpack(body[1:])
            received = 0
            while received < size:
                received += len(read_frame(sock)) - 1
                frames += 1
            assert received == size
        finally:
            abort(sock)
            server.close()


def _contract_class(spec: BackendSpec) -> type:
    """The three-line subclass of the contract for one registered backend, skipped where it cannot run."""
    cls = type(f"Test_{spec.name}", (BackendContract,), {"BACKEND": spec.name})
    reason = f"backend {spec.name} needs {', '.join(spec.requires)}, not installed here"
    return pytest.mark.skipif(not spec.available(), reason=reason)(cls)


# One test class per registered backend: registering a backend is enough to put it under contract.
for _spec in BACKENDS.specs():
    globals()[f"Test_{_spec.name}"] = _contract_class(_spec)


def test_every_registered_backend_is_under_contract():
    classes = {cls.BACKEND for name, cls in globals().items() if name.startswith("Test_")}
    assert classes == set(backend_names())
