"""netprobe against real servers nobody here wrote, at and under their connection caps (issue 17).

redis, memcached, nginx and haproxy from the OS packages (`.ci/run` installs them), each started
by a fixture on a free loopback port with a cap of CAP connections. While a ramp holds its
connections (``--hold``), the test reads the server's own count over a connection it opened
before the ramp: under the cap the two agree exactly, at the cap within 2%, and netprobe names
the stop on the server side, exits 1, and says which setting binds where the server told it.
A server that is not installed skips its tests, saying so.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Optional

import pytest

from netprobe import platform
from tests.conftest import ROOT, free_fixed_port, run_netprobe

CAP = 300
UNDER = 150
HOLD = "2"
pytestmark = pytest.mark.skipif(platform.NAME != "linux", reason="the OS packages of these servers: Linux")


def _wait_listening(port: int, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within 10 s")


class Server:
    """A real server process on loopback, and how to read its own count of client connections."""

    def __init__(self, name: str, argv: list[str], port: int, count: Callable[[], Optional[int]],
                 reason: str, setting: Optional[str]) -> None:
        self.name, self.port, self.count_now = name, port, count
        self.reason, self.setting = reason, setting  # what netprobe must say at the cap
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_listening(port, self.proc, name)
        except RuntimeError:
            self.stop()
            raise

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class _Line:
    """One stats connection, opened before the ramp and kept, reopened if the server drops it."""

    def __init__(self, port: int, request: bytes, parse: Callable[[bytes], Optional[int]], done: bytes) -> None:
        self.port, self.request, self.parse, self.done = port, request, parse, done
        self.sock: Optional[socket.socket] = None

    def __call__(self) -> Optional[int]:
        for _ in range(2):
            try:
                if self.sock is None:
                    self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                self.sock.sendall(self.request)
                data = b""
                while self.done not in data:
                    chunk = self.sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed")
                    data += chunk
                return self.parse(data)
            except OSError:
                self.close()
        return None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _field(prefix: bytes) -> Callable[[bytes], Optional[int]]:
    def parse(data: bytes) -> Optional[int]:
        for line in data.splitlines():
            if line.startswith(prefix):
                return int(line[len(prefix):].split()[0])
        return None
    return parse


def _needs(binary: str) -> None:
    if shutil.which(binary) is None:
        pytest.skip(f"{binary} is not installed (.ci/run installs it: apt-get install {binary})")


@pytest.fixture
def redis() -> Iterator[Server]:
    _needs("redis-server")
    port = free_fixed_port()
    line = _Line(port, b"INFO clients\r\n", _field(b"connected_clients:"), b"maxclients")
    server = Server("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--maxclients", str(CAP),
                              "--protected-mode", "no", "--save", "", "--appendonly", "no"],
                    port, line, "closed_by_server", "redis maxclients")
    yield server
    line.close()
    server.stop()


@pytest.fixture
def guarded_redis() -> Iterator[Server]:
    """redis as it ships: protected mode on and no password, so it takes clients from 127.0.0.1 only."""
    _needs("redis-server")
    port = free_fixed_port()
    line = _Line(port, b"INFO clients\r\n", _field(b"connected_clients:"), b"maxclients")
    server = Server("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--protected-mode", "yes",
                              "--save", "", "--appendonly", "no"],
                    port, line, "access_denied", "redis protected-mode")
    yield server
    line.close()
    server.stop()


@pytest.fixture
def memcached() -> Iterator[Server]:
    _needs("memcached")
    port = free_fixed_port()
    line = _Line(port, b"stats\r\n", _field(b"STAT curr_connections "), b"END\r\n")
    server = Server("memcached", ["memcached", "-p", str(port), "-l", "127.0.0.1", "-U", "0", "-c", str(CAP),
                                  "-u", "root"], port, line, "closed_by_server", "memcached -c")
    yield server
    line.close()
    server.stop()


@pytest.fixture
def nginx(tmp_path) -> Iterator[Server]:
    _needs("nginx")
    port = free_fixed_port()
    (tmp_path / "logs").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""worker_processes 1;
error_log {tmp_path}/logs/error.log;
pid {tmp_path}/nginx.pid;
events {{ worker_connections {CAP}; }}
http {{
    access_log off;
    keepalive_timeout 120s;
    server {{ listen 127.0.0.1:{port}; location = /status {{ stub_status; }} location / {{ return 200 "ok\\n"; }} }}
}}
""")
    line = _Line(port, b"GET /status HTTP/1.1\r\nHost: localhost\r\n\r\n", _field(b"Active connections: "),
                 b"Waiting")
    # nginx closes idle connections at its cap without a word: netprobe names the stop, not the setting.
    server = Server("nginx", ["nginx", "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"], port, line,
                    "closed_by_server", None)
    yield server
    line.close()
    server.stop()


class _HaproxyInfo:
    """haproxy's CurrConns over its stats socket (a Unix socket: never one of the TCP connections counted)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self) -> Optional[int]:
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(2)
                sock.connect(str(self.path))
                sock.sendall(b"show info\n")
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
        except OSError:
            return None
        return _field(b"CurrConns: ")(data)


@pytest.fixture
def haproxy(tmp_path, child_server) -> Iterator[Server]:
    _needs("haproxy")
    backend = child_server()
    port = free_fixed_port()
    conf = tmp_path / "haproxy.cfg"
    conf.write_text(f"""global
    maxconn {CAP}
    stats socket {tmp_path}/stats.sock mode 600 level admin
defaults
    mode tcp
    timeout connect 5s
    timeout client 120s
    timeout server 120s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server s1 {backend.addresses[0][0]}:{backend.addresses[0][1]} maxconn {CAP * 4}
""")
    # haproxy stops accepting at maxconn: the rest wait in the kernel's queue, never accepted.
    server = Server("haproxy", ["haproxy", "-db", "-f", str(conf)], port, _HaproxyInfo(tmp_path / "stats.sock"),
                    "stopped_accepting", None)
    yield server
    server.stop()


SERVERS = ["redis", "memcached", "nginx", "haproxy"]


def _settled(server: Server) -> int:
    """The server's count once it stopped moving (the probe that saw it listening may still be closing)."""
    readings: list[Optional[int]] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        readings.append(server.count_now())
        if len(readings) >= 3 and readings[-1] is not None and readings[-3:].count(readings[-1]) == 3:
            return readings[-1]
        time.sleep(0.1)
    raise AssertionError(f"{server.name}'s own count never settled: {readings[-5:]}")


def _ramp_while_counting(server: Server, args: list[str]) -> tuple[dict, int, list[Optional[int]]]:
    """Ramp with ``args`` while sampling the server's own count; (result, exit status, samples)."""
    baseline = _settled(server)
    samples: list[Optional[int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            samples.append(server.count_now())

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        proc = subprocess.run([sys.executable, "-m", "netprobe", "ramp", "--target", server.target, "--quiet",
                               "--format", "json", *args], capture_output=True, text=True, timeout=180, cwd=ROOT)
    finally:
        done.set()
        sampler.join()
    assert proc.stdout.strip(), proc.stderr
    held = [s - baseline for s in samples if s is not None]
    return json.loads(proc.stdout), proc.returncode, held


def _held_at_the_end(held: list[int]) -> int:
    """The server's count while the ramp held its last step: the last value it kept for half a second or more.

    The ramp holds every step, and its failing one, for ``--hold`` seconds; the connections close after.
    """
    plateaus = []
    run_value, run_length = None, 0
    for value in held:
        run_length = run_length + 1 if value == run_value else 1
        run_value = value
        if run_length == 5 and value > 0:
            plateaus.append(value)
    assert plateaus, f"the server's count never held still: {held}"
    return plateaus[-1]


def _server_and_workers(request, name: str, workers: Optional[int]) -> tuple[Server, list[str]]:
    """The server fixture ``name``, and the ramp options of ``workers`` local workers (none: one process)."""
    if workers and importlib.util.find_spec("locust") is None:
        pytest.skip("the dist extra is not installed")
    return request.getfixturevalue(name), (["--workers", str(workers), "--spawn-local"] if workers else [])


@pytest.mark.parametrize("name", SERVERS)
@pytest.mark.parametrize("workers", [None, 2], ids=["single", "distributed"])
@pytest.mark.slow
def test_under_the_cap_netprobe_and_the_server_agree_exactly(request, name, workers):
    server, extra = _server_and_workers(request, name, workers)
    result, status, held = _ramp_while_counting(server, ["--to", str(UNDER), "--step", str(UNDER), "--hold", HOLD,
                                                         *extra])
    assert status == 0 and result["ok"], result["verdict"]
    assert result["reached"] == UNDER and _held_at_the_end(held) == UNDER, (held[-15:], result["verdict"])


@pytest.mark.parametrize("name", SERVERS)
@pytest.mark.parametrize("workers", [None, 2], ids=["single", "distributed"])
@pytest.mark.slow
def test_at_the_cap_netprobe_counts_what_the_server_holds_and_names_the_stop(request, name, workers):
    server, extra = _server_and_workers(request, name, workers)
    result, status, held = _ramp_while_counting(server, ["--to", str(CAP * 2), "--step", str(CAP // 3), "--hold",
                                                         HOLD, *extra])
    stop = result["stop"]
    assert status == 1 and not result["ok"] and stop is not None, result["verdict"]
    assert stop["reason"] == server.reason and stop["side"] == "server", result["verdict"]
    if server.setting is not None:
        assert stop["setting"] == server.setting and server.setting.split()[-1] in stop["remedy"]
    theirs = _held_at_the_end(held)
    assert abs(result["reached"] - theirs) <= 0.02 * theirs, (result["reached"], theirs, result["verdict"])


@pytest.mark.parametrize("name, probe", [("redis", "redis"), ("memcached", "memcached"), ("nginx", "http")])
def test_a_probe_proves_each_connection_is_served(request, name, probe):
    server = request.getfixturevalue(name)
    result, status, held = _ramp_while_counting(server, ["--probe", probe, "--to", str(UNDER), "--step", str(UNDER),
                                                         "--hold", HOLD])
    assert status == 0 and result["config"]["verify"] == "probe", result["verdict"]
    assert result["reached"] == UNDER == _held_at_the_end(held)
    assert all(s["p50_ms"] is not None for s in result["steps"])  # every check had a reply to time


def test_the_redis_probe_at_the_cap_names_maxclients(redis):
    result, status, _ = _ramp_while_counting(redis, ["--probe", "redis", "--to", str(CAP * 2), "--step",
                                                     str(CAP // 3)])
    assert status == 1 and result["stop"]["reason"] == "closed_by_server"
    assert result["stop"]["setting"] == "redis maxclients" and "max number of clients" in result["stop"]["message"]


needs_aliases = pytest.mark.skipif(not platform.can_bind_loopback_aliases(), reason="no 127.0.0.x source addresses")


@needs_aliases
def test_a_server_refusing_a_source_address_is_access_denied_not_its_cap(guarded_redis):
    result, status, _ = _ramp_while_counting(guarded_redis, ["--source-ips", "2", "--to", "200", "--step", "100"])
    stop = result["stop"]
    assert status == 1 and not result["ok"], result["verdict"]
    assert (stop["reason"], stop["side"], stop["setting"]) == ("access_denied", "server", "redis protected-mode")
    assert "protected mode" in stop["said"] and "--source-ips" in stop["remedy"]
    assert result["reached"] == 50  # the first step's half from 127.0.0.1: redis took those


@pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="the dist extra is not installed")
@pytest.mark.slow
def test_local_workers_connect_from_127_0_0_1_while_its_ports_suffice(guarded_redis):
    result, status, held = _ramp_while_counting(guarded_redis, ["--workers", "2", "--spawn-local", "--to", "600",
                                                                "--step", "300", "--hold", HOLD])
    assert status == 0 and result["reached"] == 600, result["verdict"]
    assert _held_at_the_end(held) == 600


@pytest.mark.slow
def test_a_server_paused_through_the_last_step_is_never_reported_reached(redis):
    """SIGSTOP redis (maxclients CAP) from before the last step into its hold: its queue then its cap tell."""
    import os
    import signal

    to = CAP + CAP // 5
    step = to // 3  # steps at about 0.4, 2.4 and 4.4 s: redis is paused from the second's hold into the third's
    pause = threading.Timer(3.0, os.kill, (redis.proc.pid, signal.SIGSTOP))
    resume = threading.Timer(5.5, os.kill, (redis.proc.pid, signal.SIGCONT))
    pause.start()
    resume.start()
    try:
        result, status, held = _ramp_while_counting(redis, ["--to", str(to), "--step", str(step), "--hold", "2"])
    finally:
        pause.cancel()
        resume.cancel()
        os.kill(redis.proc.pid, signal.SIGCONT)
    assert status == 1 and not result["ok"] and result["stop"]["side"] == "server", result["verdict"]
    assert result["reached"] <= CAP and all(s["connections"] <= CAP for s in result["steps"]), result["steps"]
    assert abs(result["reached"] - _held_at_the_end(held)) <= 0.02 * CAP, (result["reached"], held[-10:])


@pytest.mark.slow
def test_a_client_that_cannot_send_its_rate_is_the_knee_named_client_cpu_never_the_server(redis):
    # 200,000 PINGs a second is beyond one Python client; redis answers each in microseconds.
    proc = run_netprobe("ramp", "--target", redis.target, "--probe", "redis", "--total-rate", "200000",
                        "--step", "25", "--max", "100", "--hold", "1", "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    stop = json.loads(proc.stdout)["stop"]
    assert stop is not None and stop["reason"] == "latency_knee", stop
    if stop["cause"] == "cpu_contention":
        # A machine too busy to run a side when it was ready (CI runs four lanes on two cores): the
        # side that waited longest for a CPU is named, client or server, and the machine is blamed.
        assert "busy with other work" in stop["message"], stop
    else:  # the client's own CPU, and its remedy: more clients
        assert (stop["side"], stop["cause"]) == ("client", "client_cpu"), stop
        assert "--workers" in stop["remedy"]
