"""A distributed ramp across hosts that are network namespaces: lossy links, a worker cut off, a master cut off.

The server and the master run on one host, each worker on another, all joined by a bridge the test
makes (tests/network/hosts.py). Counts are judged against the server's kernel (``ss`` in its
namespace), never against timing alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import psutil
import pytest

from tests.conftest import ROOT
from tests.network.hosts import Host, cannot_make_hosts, network

pytestmark = [pytest.mark.skipif(cannot_make_hosts() is not None, reason=cannot_make_hosts() or ""),
              pytest.mark.skipif(__import__("importlib.util").util.find_spec("locust") is None,
                                 reason="needs the [dist] extra (locust)")]

SECRET = "the hosts' shared secret, 0123456789abcdef"
SERVER_PORT, MASTER_PORT = 9000, 5557
ENV = {**os.environ, "NETPROBE_SECRET": SECRET}


def _netprobe(host: Host, *args: str, stdout=subprocess.DEVNULL) -> subprocess.Popen:
    return host.popen([sys.executable, "-m", "netprobe", *args], stdout=stdout, stderr=subprocess.PIPE,
                      encoding="utf-8", cwd=ROOT, env=ENV)


def _established(host: Host) -> int:
    """Connections the server's kernel holds established on the server's port."""
    out = subprocess.run(host.argv(["ss", "-Htn", "state", "established", f"( sport = :{SERVER_PORT} )"]),
                         capture_output=True, text=True, check=True).stdout
    return sum(1 for line in out.splitlines() if line.strip())


def _server(host: Host) -> subprocess.Popen:
    server = _netprobe(host, "serve", "--host", host.address, "--port", str(SERVER_PORT), "--allow-remote",
                       stdout=subprocess.PIPE)
    assert server.stdout is not None and server.stdout.readline().strip()  # its address: it listens
    return server


def _ramp(host: Host, out, *args: str) -> subprocess.Popen:
    return _netprobe(host, "ramp", "--quiet", "--target", f"{host.address}:{SERVER_PORT}", "--allow-remote",
                     "--workers", "2", "--master-bind", f"{host.address}:{MASTER_PORT}", "--format", "json",
                     "--output", str(out), *args)


def _worker(host: Host, master: Host) -> subprocess.Popen:
    return _netprobe(host, "worker", "--master", f"{master.address}:{MASTER_PORT}", "--allow-remote", "--wait", "30")


def _until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def _stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
        if proc.stdout is not None:
            proc.stdout.close()


def _worker_pid(launcher: subprocess.Popen) -> set[int]:
    """The pids a worker started with ``ip netns exec`` may report: the launcher's and its children's."""
    try:
        return {launcher.pid, *(c.pid for c in psutil.Process(launcher.pid).children(recursive=True))}
    except psutil.NoSuchProcess:
        return {launcher.pid}


@pytest.mark.slow
def test_five_percent_loss_on_a_workers_link_still_agrees_with_the_servers_kernel(tmp_path):
    out = tmp_path / "r.json"
    with network(3) as net:
        server_host, lossy, clean = net.hosts
        lossy.lose(20)
        server = _server(server_host)
        ramp = _ramp(server_host, out, "--to", "2000", "--step", "500", "--hold", "2", "--timeout", "10")
        workers = [_worker(lossy, server_host), _worker(clean, server_host)]
        try:
            peak = 0
            deadline = time.monotonic() + 120
            while ramp.poll() is None and time.monotonic() < deadline:
                peak = max(peak, _established(server_host))
                time.sleep(0.2)
            _, err = ramp.communicate(timeout=30)
            left = _established(server_host)
        finally:
            _stop(ramp, *workers, server)
    data = json.loads(out.read_text("utf-8")) if out.exists() else {}
    assert ramp.returncode == 0, (err, data.get("verdict"))
    assert data["reached"] == 2000 and len(data["workers"]) == 2
    assert 2000 <= peak <= 2002, f"the server's kernel held {peak} at most"
    assert left <= 1


@pytest.mark.slow
def test_a_worker_cut_off_mid_ramp_is_named_and_the_other_is_not_blamed(tmp_path):
    out = tmp_path / "r.json"
    with network(3) as net:
        server_host, kept, cut = net.hosts
        server = _server(server_host)
        ramp = _ramp(server_host, out, "--to", "6000", "--step", "500", "--hold", "1", "--timeout", "3")
        survivor, victim = _worker(kept, server_host), _worker(cut, server_host)
        try:
            assert _until(lambda: _established(server_host) >= 1000, 60), "the ramp never reached 1,000"
            victim_pids = _worker_pid(victim)
            net.cut(cut)
            cut_at = time.monotonic()
            _, err = ramp.communicate(timeout=60)
            named_after = time.monotonic() - cut_at
        finally:
            _stop(ramp, survivor, victim, server)
    assert ramp.returncode == 1, err
    data = json.loads(out.read_text("utf-8"))
    stop = data["stop"]
    assert (stop["reason"], stop["side"]) == ("worker_lost", "client"), stop
    lost = [w for w in data["workers"] if w["id"] == stop["worker"]]
    assert len(lost) == 1 and lost[0]["pid"] in victim_pids, (stop, data["workers"])
    kept_entry = [w for w in data["workers"] if w["id"] != stop["worker"]][0]
    assert kept_entry["failure"] is None and kept_entry["held"] > 0
    assert named_after < 3 + 3 + 10, f"named {named_after:.1f} s after the cut (--timeout 3)"


@pytest.mark.slow
def test_a_master_cut_off_has_its_workers_close_their_connections_and_leave(tmp_path):
    out = tmp_path / "r.json"
    with network(4) as net:
        server_host, master_host, first, second = net.hosts
        server = _server(server_host)
        ramp = _netprobe(master_host, "ramp", "--quiet", "--target", f"{server_host.address}:{SERVER_PORT}",
                         "--allow-remote", "--workers", "2", "--master-bind", f"{master_host.address}:{MASTER_PORT}",
                         "--to", "20000", "--step", "500", "--hold", "2", "--format", "json", "--output", str(out))
        workers = [_worker(first, master_host), _worker(second, master_host)]
        try:
            assert _until(lambda: _established(server_host) >= 1000, 60), "the ramp never reached 1,000"
            net.cut(master_host)
            cut_at = time.monotonic()
            ended = [w.wait(timeout=40) for w in workers]
            left_after = time.monotonic() - cut_at
            errors = [w.stderr.read() for w in workers]
            drained = _until(lambda: _established(server_host) == 0, 10)
        finally:
            _stop(ramp, *workers, server)
    assert ended == [1, 1], errors
    assert all("fell silent" in e for e in errors), errors
    assert left_after < 10 + 10, f"the workers left {left_after:.1f} s after the cut"
    assert drained, "the workers left connections open on the server"
