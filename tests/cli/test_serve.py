"""netprobe serve as a real process: the address comes first, SIGTERM ends it cleanly."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import psutil
import pytest

from netprobe import platform
from netprobe.cli import run
from tests.conftest import ROOT, netprobe_process


@pytest.mark.skipif(platform.NAME == "windows", reason="SIGTERM to a console process")
@pytest.mark.parametrize("backend", ["selectors", "select", "gevent", "threads"])
def test_serve_prints_its_address_first_and_exits_0_on_sigterm(backend):
    with netprobe_process("serve", "--backend", backend, "--protocol", "upper", stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, encoding="utf-8") as proc:
        first = proc.stdout.readline().strip()
        host, port = first.rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"shout")
            assert sock.recv(16) == b"SHOUT"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "served 1 connections" in out
    assert not psutil.pid_exists(proc.pid) or psutil.Process(proc.pid).status() == psutil.STATUS_ZOMBIE


def test_port_in_use_is_a_usage_error(capsys, loopback_listener):
    port = loopback_listener.getsockname()[1]
    assert run(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in err


@pytest.mark.parametrize("argv, message", [
    (["serve", "--backend", "nosuch"], "'nosuch' is not one of"),
    (["serve", "--protocol", "file"], "needs --root"),
    (["serve", "--protocol", "file", "--root", "/nonexistent"], "does not exist"),
    (["serve", "--protocol", "file", "--root", __file__], "not a directory"),
    (["serve", "--host", "192.0.2.1"], "--allow-remote"),
    (["serve", "--host", "0.0.0.0"], "--allow-remote"),
    (["serve", "--port", "70000"], "outside 0-65535"),
    (["serve", "--processes", "0"], "--processes must be 1-"),
    (["serve", "--selector", "nosuch"], "'nosuch' is not one of"),
    (["bench", "echo", "--clients", "0"], "--clients must be greater than 0"),
    (["bench", "echo", "--size", "0"], "--size must be"),
    (["bench", "echo", "--duration", "0"], "--duration must be a finite number of seconds above 0"),
    (["bench", "echo", "--backend", "nosuch"], "--backend must be one of"),
    (["bench", "echo", "--client", "fibers"], "Invalid value for '--client'"),
    (["bench", "transfer", "--clients", "0"], "--clients must be 1-"),
    (["bench", "transfer", "--file", "/nonexistent"], "is not a file"),
])
def test_bad_input(capsys, argv, message):
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_bench_echo_reports_every_backend(capsys):
    from netprobe.bench.echo_bench import run_bench_echo
    from netprobe.clients.registry import CLIENTS
    from netprobe.servers.registry import BACKENDS

    result = run_bench_echo([BACKENDS.get(b) for b in ("selectors", "select", "threads")], clients=20, size=512,
                            duration=0.5, client=CLIENTS.get("nonblocking"))
    for r in result.runs:
        assert r.error is None, r.error
        assert r.round_trips_per_s > 100 and r.errors == 0
        assert r.p50_ms <= r.p90_ms <= r.p99_ms <= r.max_ms
        assert r.server_rss > 0 and r.server_cpu is not None


def test_a_backend_that_fails_is_a_row_with_its_error():
    from netprobe.bench.echo_bench import run_one
    from netprobe.clients.registry import CLIENTS
    from netprobe.servers.registry import BACKENDS, ServerOptions

    row = run_one(BACKENDS.get("selectors"), 10, 64, 0.3, CLIENTS.get("nonblocking"),
                  ServerOptions(selector_class="NoSuchSelector"))
    assert row.error is not None and row.round_trips_per_s is None


@pytest.mark.skipif(platform.NAME == "windows", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("argv, shows", [
    (["ramp", "--to", "2000", "--step", "200", "--hold", "0.1"], True),
    (["ramp", "--to", "2000", "--step", "200", "--hold", "0.1", "--quiet"], False),
])
def test_progress_appears_on_a_terminal_only(argv, shows):
    import os
    import pty

    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "netprobe", *argv], stdout=subprocess.PIPE,
                                stderr=terminal, cwd=ROOT, env={**os.environ, "COLUMNS": "120"})
        os.close(terminal)
        terminal = None
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        out, _ = proc.communicate(timeout=60)
    finally:
        os.close(controller)
        if terminal is not None:
            os.close(terminal)
    assert proc.returncode == 0
    assert b"Reached 2,000" in out  # the report itself goes to stdout either way
    assert (b"conns, client fds" in seen) is shows
