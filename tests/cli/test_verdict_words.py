"""The words of a verdict are true for the case at hand (issue 17, item 8)."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from netprobe import platform
from tests.conftest import needs_rlimit, netprobe_process, run_netprobe


def _stop(*args: str, preexec_fn=None) -> dict:
    proc = run_netprobe("ramp", "--quiet", "--format", "json", *args, preexec_fn=preexec_fn)
    assert proc.returncode == 1, proc.stderr
    return json.loads(proc.stdout)["stop"]


@needs_rlimit
def test_the_select_backend_is_not_told_to_use_a_selector_it_rejects():
    stop = _stop("--backend", "select", "--to", "2000")
    assert stop["reason"] == "select_limit"
    assert "--backend selectors" in stop["remedy"] and "use --selector" not in stop["remedy"]


@needs_rlimit
@pytest.mark.slow
def test_at_the_hard_limit_the_remedy_is_to_raise_the_hard_limit():
    import resource

    def hard_600() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (600, 600))

    # One server process (without --processes 1 the ramp would spread past the hard limit, issue 19).
    stop = _stop("--to", "1000", "--processes", "1", preexec_fn=hard_600)
    assert stop["reason"] == "fd_limit" and "already its hard limit (600)" in stop["remedy"]
    assert "ulimit -n 600" not in stop["remedy"]


@pytest.mark.skipif(platform.NAME == "windows", reason="SIGTERM to a console process")
def test_serve_counts_the_resets_of_a_ramp_apart_from_errors():
    with netprobe_process("serve", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as server:
        address = server.stdout.readline().strip()
        ramp = run_netprobe("ramp", "--target", address, "--verify", "echo", "--to", "200", "--quiet")
        assert ramp.returncode == 0, ramp.stderr
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=20)
    assert "served 200 connections" in out and " 0 errors, 200 reset by their clients" in out


def test_an_unknown_loop_is_unknown_not_unavailable():
    proc = run_netprobe("ramp", "--backend", "asyncio", "--loop", "bogus")
    assert proc.returncode == 2 and "--loop must be one of" in proc.stderr


@pytest.mark.parametrize("client", ["nonblocking", "threads", "gevent"])
def test_a_server_that_resets_what_it_accepts_is_named_closed_by_server(client):
    import socket
    import struct
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    listener.settimeout(0.1)
    done = threading.Event()

    def reset_everything() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    thread = threading.Thread(target=reset_everything)
    thread.start()
    try:
        stop = _stop("--target", f"127.0.0.1:{listener.getsockname()[1]}", "--verify", "echo", "--to", "10",
                     "--client", client)
    finally:
        done.set()
        thread.join()
        listener.close()
    assert stop["reason"] == "closed_by_server" and stop["side"] == "server", stop
