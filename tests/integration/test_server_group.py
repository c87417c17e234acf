"""Issue 19 #1: one server of several processes on one port, the kernel spreading its connections."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import psutil
import pytest

from netprobe import platform
from netprobe.errors import UsageError
from netprobe.servers.group import ServerGroup, check_processes
from netprobe.servers.spec import ServerSpec
from netprobe.sockets import abort
from tests.conftest import netprobe_process

shares_port = pytest.mark.skipif(not platform.SHARES_PORT, reason="this kernel does not spread one port over "
                                                                   "processes (Linux's SO_REUSEPORT)")


def _held_by(pid: int, port: int) -> int:
    """Established connections the kernel says process ``pid`` holds on ``port``."""
    return sum(1 for c in psutil.Process(pid).net_connections("tcp")
               if c.laddr and c.laddr.port == port and c.status == psutil.CONN_ESTABLISHED)


@shares_port
def test_a_group_spreads_one_port_over_its_processes_and_sums_their_counts():
    group = ServerGroup(ServerSpec(want_fds=1024), 4)
    socks: list[socket.socket] = []
    try:
        host, port = group.addresses[0]
        assert len(set(group.pids)) == 4
        for _ in range(400):
            sock = socket.create_connection((host, port), timeout=10)
            socks.append(sock)
            sock.sendall(b"x")
            assert sock.recv(1) == b"x"  # accepted and served by whichever process the kernel chose
        parts = group.statuses()
        total = group.status()
        assert total is not None and total.held == sum(p.held for p in parts) == 400
        assert sum(1 for p in parts if p.held) >= 2, [p.held for p in parts]  # spread, not one taking all
        kernel = [_held_by(pid, port) for pid in group.pids]
        assert kernel == [p.held for p in parts]  # each process's count is the kernel's
    finally:
        for sock in socks:
            abort(sock)
        group.close()
    assert not [pid for pid in group.pids if psutil.pid_exists(pid)
                and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]


@pytest.mark.skipif(platform.NAME == "windows", reason="SIGTERM to a console process")
@shares_port
def test_serve_processes_prints_one_address_and_how_the_kernel_spread_the_connections():
    with netprobe_process("serve", "--processes", "3", "--protocol", "upper", stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        host, port = proc.stdout.readline().strip().rsplit(":", 1)
        for _ in range(60):
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(b"shout")
                assert sock.recv(16) == b"SHOUT"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "served 60 connections" in out and "over 3 processes" in out
    spread = [int(n.replace(",", "")) for n in out.rsplit("accepted: ", 1)[1].rstrip(")\n").split(", ")]
    assert len(spread) == 3 and sum(spread) == 60


@pytest.mark.skipif(platform.NAME == "windows", reason="SIGKILL of one member")
@shares_port
def test_a_group_that_loses_a_process_stops_names_it_and_leaves_none_behind():
    with netprobe_process("serve", "--processes", "3", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        host, port = proc.stdout.readline().strip().rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"x")
            assert sock.recv(1) == b"x"
        members = psutil.Process(proc.pid).children()
        assert len(members) == 3
        members[1].send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 1, err
    assert f"server process {members[1].pid} was killed by SIGKILL" in err and "the other 2 were stopped" in err
    assert "over 2 processes" in out and "Traceback" not in err
    assert not [m for m in members if m.is_running() and m.status() != psutil.STATUS_ZOMBIE]


def test_a_group_is_checked_before_any_process_starts():
    with pytest.raises(UsageError, match="--processes must be"):
        check_processes(0)
    with pytest.raises(UsageError, match="--ports" if platform.SHARES_PORT else "SO_REUSEPORT"):
        check_processes(2, ports=3)


@pytest.mark.skipif(not platform.HAS_RLIMIT, reason="sets the ramp's hard fd limit")
@shares_port
def test_a_ramp_past_one_process_spreads_over_processes_and_reaches_its_target(tmp_path):
    """A hard fd limit of 1,000 (set in the ramp's own process): 3,000 connections take 4 servers and 4 clients."""
    import json
    import resource

    from tests.conftest import run_netprobe

    out = tmp_path / "r.json"
    done = run_netprobe("ramp", "--to", "3000", "--quiet", "--format", "json", "--output", str(out),
                        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1000, 1000)))
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text("utf-8"))
    assert data["reached"] == 3000 and data["stop"] is None
    assert (data["config"]["server_processes"], data["config"]["client_processes"]) == (4, 4)
    last = data["steps"][-1]
    # The kernel's count of the server processes' open fds: every connection, and a few fds each besides.
    assert 3000 < last["server_fds"] <= 3000 + 4 * 40 and 3000 < last["client_fds"] <= 3000 + 5 * 80, last
    assert data["predicted"]["max_connections"] >= 3000
    assert {n["field"] for n in data["notes"]} >= {"server.processes", "client.processes"}


@shares_port
def test_ramp_processes_runs_the_server_as_n_and_keeps_each_share():
    import json

    from tests.conftest import run_netprobe

    done = run_netprobe("ramp", "--processes", "3", "--to", "600", "--quiet", "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    servers = [p for p in data["processes"] if p["side"] == "server"]
    assert data["reached"] == 600 and data["config"]["server_processes"] == 3 and len(servers) == 3
    assert sum(p["held"] for p in servers) == 600 and all(p["fds"] >= p["held"] for p in servers)


@pytest.mark.parametrize("args, problem", [
    (["--processes", "0"], "--processes must be 1-"),
    (["--processes", "2", "--placement", "thread"], "--placement thread"),
    (["--processes", "2", "--ports", "2"], "--ports"),
])
def test_ramp_processes_is_checked_before_the_work(args, problem):
    from tests.conftest import run_netprobe

    if not platform.SHARES_PORT and args[1] != "0":
        problem = "SO_REUSEPORT"
    done = run_netprobe("ramp", "--to", "10", *args)
    assert done.returncode == 2 and problem in done.stderr and done.stderr.count("\n") == 1, done.stderr


@pytest.mark.skipif(not platform.HAS_RLIMIT, reason="sets the ramp's hard fd limit")
@shares_port
@pytest.mark.slow
def test_a_spread_client_process_killed_mid_ramp_is_named_and_the_report_still_written(tmp_path):
    """Writing to a dead client process's pipe once reached typer as EPIPE: exit 1, no message, no report."""
    import json
    import resource
    import time

    out = tmp_path / "r.json"
    ramp = subprocess.Popen(
        [sys.executable, "-m", "netprobe", "ramp", "--to", "2000", "--step", "500", "--hold", "3", "--quiet",
         "--format", "json", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, encoding="utf-8",
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1000, 1000)))
    try:
        deadline = time.monotonic() + 30
        victim = None
        while victim is None and time.monotonic() < deadline and ramp.poll() is None:
            spread = [p for p in psutil.Process(ramp.pid).children()
                      if "netprobe.clients.spread" in " ".join(p.cmdline())]
            victim = spread[0] if spread else None
            time.sleep(0.2)
        assert victim is not None, "the ramp started no client process"
        time.sleep(1.0)  # into the first step's hold
        victim.send_signal(signal.SIGKILL)
        _, err = ramp.communicate(timeout=60)
    finally:
        if ramp.poll() is None:
            ramp.kill()
            ramp.communicate()
    assert ramp.returncode == 1, err
    assert "Traceback" not in err
    data = json.loads(out.read_text("utf-8"))
    assert (data["stop"]["reason"], data["stop"]["side"]) == ("worker_lost", "client"), data["stop"]
    assert f"client process {victim.pid} was killed by signal 9" in data["stop"]["message"]
    assert data["ok"] is False and data["reached"] < 2000
