"""Distributed ramps on loopback: a master, local workers on locust's engine, and a real server.

Bounded: a few thousand connections, every process reaped, the server's own count checked.
Skipped with a reason where the dist extra (locust) is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import psutil
import pytest

from netprobe import platform
from netprobe.distributed.messages import WorkerSpec
from netprobe.errors import UsageError
from netprobe.servers.registry import BACKENDS
from netprobe.servers.spec import ServerSpec
from tests.conftest import ROOT, UNCAPPED_BACKEND, free_fixed_port, in_child, run_netprobe, signal_netprobe

# Looked up, never imported: importing locust in this process would monkey-patch it (gevent).
pytestmark = pytest.mark.skipif(importlib.util.find_spec("locust") is None,
                                reason="the dist extra is not installed: pip install '.[dist]'")
posix_only = pytest.mark.skipif(not platform.HAS_RLIMIT, reason="fd limits and signals to a pid are POSIX")
SECRET = "a test run's shared secret, 0123456789"
# Seconds a worker with --wait 3 may take to give up on something that is no master. Left to itself,
# locust's worker says hello for 5 minutes; beside the wait, the bound leaves room for starting
# Python and importing locust on a machine that runs CI's four lanes on two cores (15.5 s was seen).
GIVES_UP_WITHIN = 60


@pytest.fixture(autouse=True)
def run_secret(monkeypatch):
    """This module's runs share a secret of its own, which its own workers are also given."""
    monkeypatch.setenv("NETPROBE_SECRET", SECRET)
    return SECRET


@pytest.fixture
def server(child_server):
    """A netprobe server in its own process, so the test can ask it what it holds."""
    return child_server(ServerSpec(backend=BACKENDS.get(UNCAPPED_BACKEND), want_fds=12_000))


def _target(srv) -> str:
    host, port = srv.addresses[0]
    return f"{host}:{port}"


def _drained(srv, timeout: float = 15) -> int:
    deadline = time.monotonic() + timeout
    while srv.status().held and time.monotonic() < deadline:
        time.sleep(0.05)
    return srv.status().held


def _worker(master: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "netprobe", "worker", "--master", master, *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, encoding="utf-8", cwd=ROOT)


def _altered_worker(port: int, alteration: str) -> subprocess.Popen:
    """A worker of this run (it has the secret) whose module ``alteration`` changes in its own process only."""
    code = f"import sys\nfrom netprobe.distributed import worker\n{alteration}sys.exit(worker.main())"
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, encoding="utf-8", cwd=ROOT)
    proc.stdin.write(WorkerSpec(master=("127.0.0.1", port), secret=SECRET).to_json() + "\n")
    proc.stdin.flush()
    return proc


def _end(*procs: subprocess.Popen) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.slow
def test_three_local_workers_account_for_every_connection(server, tmp_path):
    out = tmp_path / "r.json"
    done = run_netprobe("ramp", "--target", _target(server), "--workers", "3", "--spawn-local", "--to", "3000",
                        "--quiet", "--format", "json", "--output", str(out), timeout=180)
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text("utf-8"))
    held = [w["held"] for w in data["workers"]]
    assert data["reached"] == 3000 and sum(held) == 3000 and len(held) == 3
    # 3,000 fit in one address's ports: every local worker connects from 127.0.0.1, as a client of
    # a server that takes only 127.0.0.1 (redis's protected mode) must.
    assert all(w["source_ips"] == [] for w in data["workers"])
    assert all(w["netprobe"] and w["pid"] for w in data["workers"])
    assert all((w["soft_fds"] is not None) == platform.HAS_RLIMIT for w in data["workers"])  # Windows: no fd limit
    assert _drained(server) == 0  # every worker closed what it held


@posix_only
@pytest.mark.slow
def test_a_worker_at_its_fd_limit_is_named_as_a_client_side_stop(server, tmp_path):
    out, port = tmp_path / "r.json", free_fixed_port()
    master = subprocess.Popen([sys.executable, "-m", "netprobe", "ramp", "--target", _target(server), "--workers",
                               "2", "--master-bind", f"127.0.0.1:{port}", "--to", "2000", "--quiet",
                               "--format", "json", "--output", str(out)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, encoding="utf-8", cwd=ROOT)
    workers = [_worker(f"127.0.0.1:{port}"), _worker(f"127.0.0.1:{port}", "--fd-limit", "256")]
    try:
        _, err = master.communicate(timeout=120)
        for w in workers:
            w.wait(timeout=20)  # no worker outlives its master
    finally:
        _end(master, *workers)
    assert master.returncode == 1, err
    data = json.loads(out.read_text("utf-8"))
    stop = data["stop"]
    assert (stop["reason"], stop["side"]) == ("fd_limit", "client") and stop["worker"]
    limited = next(w for w in data["workers"] if w["id"] == stop["worker"])
    assert limited["soft_fds"] == 256
    assert 256 - limited["fds_at_start"] - 16 <= limited["held"] <= 256 - limited["fds_at_start"]
    assert _drained(server) == 0


@posix_only
@pytest.mark.slow
def test_a_worker_killed_mid_ramp_is_worker_lost(server, tmp_path):
    out, port = tmp_path / "r.json", free_fixed_port()
    master = subprocess.Popen([sys.executable, "-m", "netprobe", "ramp", "--target", _target(server), "--workers",
                               "2", "--master-bind", f"127.0.0.1:{port}", "--to", "4000", "--hold", "1",
                               "--quiet", "--format", "json", "--output", str(out)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, encoding="utf-8", cwd=ROOT)
    survivor, victim = _worker(f"127.0.0.1:{port}"), _worker(f"127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while server.status().held < 800 and time.monotonic() < deadline:
            time.sleep(0.1)
        for child in psutil.Process(victim.pid).children():
            child.kill()  # the worker process itself, under its `netprobe worker` launcher
        _, err = master.communicate(timeout=60)
        survivor.wait(timeout=20)
    finally:
        _end(master, survivor, victim)
    assert master.returncode == 1, err
    data = json.loads(out.read_text("utf-8"))
    assert data["stop"]["reason"] == "worker_lost" and data["stop"]["side"] == "client"
    assert _drained(server) == 0  # the survivor closed its share, the kernel the victim's


@posix_only
@pytest.mark.slow
def test_sigint_to_the_master_ends_it_with_130_and_leaves_nothing(server, tmp_path):
    out = tmp_path / "r.json"
    master = subprocess.Popen([sys.executable, "-m", "netprobe", "ramp", "--target", _target(server), "--workers",
                               "2", "--spawn-local", "--to", "6000", "--step", "500", "--hold", "1",
                               "--quiet", "--format", "json", "--output", str(out)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, encoding="utf-8", cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while server.status().held < 1000 and time.monotonic() < deadline:
            time.sleep(0.1)
        kids = psutil.Process(master.pid).children(recursive=True)
        master.send_signal(signal.SIGINT)
        _, err = master.communicate(timeout=60)
    finally:
        _end(master)
    assert master.returncode == 130, err
    assert json.loads(out.read_text("utf-8"))["stop"]["reason"] == "interrupted"
    psutil.wait_procs(kids, timeout=15)
    assert not [k for k in kids if k.is_running() and k.status() != psutil.STATUS_ZOMBIE]
    assert _drained(server) == 0


def test_a_worker_of_another_version_is_refused_with_both_named(server, tmp_path):
    port = free_fixed_port()
    master = subprocess.Popen([sys.executable, "-m", "netprobe", "ramp", "--target", _target(server), "--workers",
                               "1", "--master-bind", f"127.0.0.1:{port}", "--to", "10", "--quiet"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, encoding="utf-8", cwd=ROOT)
    # A worker that says it is another netprobe: the version is set in that child process only.
    old = _altered_worker(port, "import netprobe; netprobe.__version__ = '0.0.1'\n"
                                "worker.__version__ = '0.0.1'\n")
    try:
        _, err = master.communicate(timeout=60)
        _, worker_err = old.communicate(timeout=30)
    finally:
        _end(master, old)
    assert master.returncode == 2 and "0.0.1" in err and "netprobe" in err, err
    assert old.returncode == 2 and "0.0.1" in worker_err


@pytest.mark.parametrize("argv, message", [
    (["--workers", "0", "--target", "127.0.0.1:9"], "--workers must be 1-"),
    (["--workers", "2"], "--workers ramps an external server"),
    (["--workers", "2", "--target", "198.51.100.7:80"], "--allow-remote"),
    (["--spawn-local", "--target", "127.0.0.1:9"], "go with --workers"),
    (["--workers", "2", "--target", "127.0.0.1:9", "--master-bind", "192.0.2.1:5557"], "--allow-remote"),
    (["--workers", "2", "--target", "127.0.0.1:9", "--worker-wait", "nan"], "--worker-wait must be"),
    (["--workers", "2", "--target", "127.0.0.1:9", "--client", "threads"], "--client threads cannot apply with"),
])
def test_bad_distributed_input_is_one_line_and_exit_2(argv, message):
    """Caught before any process starts; a client model the workers cannot honour is refused, not ignored."""
    done = run_netprobe("ramp", "--to", "10", *argv)
    assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1, done.stderr


def test_a_master_port_that_is_taken_is_a_usage_error(server):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_netprobe("ramp", "--to", "10", "--target", _target(server), "--workers", "1",
                            "--master-bind", f"127.0.0.1:{port}", timeout=60)
    assert done.returncode == 2 and "cannot listen for workers" in done.stderr, done.stderr


@posix_only
@pytest.mark.slow
def test_a_local_worker_killed_at_birth_ends_the_wait_for_workers_at_once(server):
    """--worker-wait is 60 s; a worker that can never say hello is named within seconds instead."""
    ramp = _cli_ramp("--target", _target(server), "--workers", "2", "--spawn-local", "--to", "100",
                     "--worker-wait", "60")
    started, victim = time.monotonic(), None
    try:
        while victim is None and time.monotonic() - started < 10:
            for child in psutil.Process(ramp.pid).children():
                if "netprobe.distributed.worker" in " ".join(child.cmdline()):
                    victim = child
                    child.kill()
                    break
            time.sleep(0.01)
        _, err = ramp.communicate(timeout=30)
    finally:
        _end(ramp)
    took = time.monotonic() - started
    assert victim is not None
    assert ramp.returncode == 1 and f"local worker (pid {victim.pid}) ended before it connected" in err, err
    # Named by evidence (the CLI saw the worker die), long before the 60 s of --worker-wait ran out.
    assert "killed by signal 9" in err and took < 45, (took, err)
    assert _drained(server) == 0


@posix_only
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_the_master_starts_ends_the_run_at_once_with_its_report(server, tmp_path, signum):
    """The master has not yet put its handlers in: the CLI holds the signal until the master listens.

    The signal lands as soon as the master's process exists (looked for without a pause), often
    while the CLI is still inside ``Popen`` starting it.
    """
    out = tmp_path / "r.json"
    status, err, kids = signal_netprobe(["ramp", "--target", _target(server), "--workers", "2", "--spawn-local",
                                         "--to", "400", "--quiet", "-f", "json", "-o", str(out)], (signum,),
                                        settle=0.0, timeout=30, poll=0.0)
    assert status == 130, (status, err)
    data = json.loads(out.read_text("utf-8"))
    # At once by evidence, not by a clock that CI's load stretches: ended before any worker held one.
    assert data["stop"]["reason"] == "interrupted" and data["reached"] == 0
    assert not [k for k in kids if k.is_running() and k.status() != psutil.STATUS_ZOMBIE]
    assert _drained(server) == 0


@posix_only  # under Wine a worker takes longer to start than the master's whole wait here
@pytest.mark.slow
def test_a_wait_for_workers_that_times_out_names_the_peers_turned_away(server):
    """A worker given another secret fails CURVE's handshake before any handler is asked: counted all the same."""
    port = free_fixed_port()
    ramp = subprocess.Popen([sys.executable, "-m", "netprobe", "ramp", "--quiet", "--target", _target(server),
                             "--workers", "1", "--master-bind", f"127.0.0.1:{port}", "--to", "10",
                             "--worker-wait", "5"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            encoding="utf-8", cwd=ROOT, env={**os.environ, "NETPROBE_SECRET": SECRET})
    try:
        time.sleep(1.5)
        stranger = run_netprobe("worker", "--master", f"127.0.0.1:{port}", "--wait", "2", timeout=30,
                                env={**os.environ, "NETPROBE_SECRET": "another run's secret, 0123456789"})
        _, err = ramp.communicate(timeout=30)
    finally:
        _end(ramp)
    assert stranger.returncode == 1
    assert ramp.returncode == 1 and "0 of 1 workers connected" in err, err
    assert "turned away without the run's key" in err, err


@posix_only
@pytest.mark.slow
def test_a_master_paused_past_its_workers_patience_names_its_own_pause_and_blames_no_worker(server, tmp_path):
    """SIGSTOP the master for 11 s: its workers close their connections after 10 s of silence; on SIGCONT it says so."""
    out = tmp_path / "r.json"
    ramp = subprocess.Popen([sys.executable, "-m", "netprobe", "ramp", "--quiet", "--target", _target(server),
                             "--workers", "2", "--spawn-local", "--to", "1000", "--step", "100", "--hold", "2",
                             "-f", "json", "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            encoding="utf-8", cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while server.status().held < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        master = next(p for p in psutil.Process(ramp.pid).children()
                      if "netprobe.distributed.master" in " ".join(p.cmdline()))
        master.suspend()
        time.sleep(11)
        master.resume()
        _, err = ramp.communicate(timeout=60)
    finally:
        _end(ramp)
    assert ramp.returncode == 1, err
    data = json.loads(out.read_text("utf-8"))
    assert (data["stop"]["reason"], data["stop"]["side"]) == ("master_paused", "client"), data["stop"]
    assert data["reached"] == 0 and data["stop"].get("worker") is None
    assert "did not run for 1" in data["verdict"]
    assert _drained(server) == 0


@posix_only
@pytest.mark.slow
def test_idle_strangers_holding_connections_to_the_master_do_not_make_it_spin(server):
    """A soft fd limit of 128 and 400 idle TCP peers: the master takes room up to its hard limit, so no EMFILE."""
    port = free_fixed_port()
    ramp = subprocess.Popen([sys.executable, "-m", "netprobe", "ramp", "--quiet", "--target", _target(server),
                             "--workers", "1", "--master-bind", f"127.0.0.1:{port}", "--to", "10",
                             "--worker-wait", "12"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            encoding="utf-8", cwd=ROOT, env={**os.environ, "NETPROBE_SECRET": SECRET},
                            preexec_fn=in_child(128))
    strangers: list[socket.socket] = []
    try:
        master = None
        deadline = time.monotonic() + 20
        while master is None and time.monotonic() < deadline:
            master = next((p for p in psutil.Process(ramp.pid).children()
                           if "netprobe.distributed.master" in " ".join(p.cmdline())), None)
            time.sleep(0.1)
        assert master is not None
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        for _ in range(400):
            strangers.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        before = sum(master.cpu_times()[:2])
        time.sleep(4)
        spent = sum(master.cpu_times()[:2]) - before
    finally:
        for sock in strangers:
            sock.close()
        _end(ramp)
    assert spent < 1.0, f"the master used {spent:.1f} s of CPU in 4 s beside 400 idle peers"


def test_a_worker_with_no_master_says_so_after_a_bounded_wait():
    done = run_netprobe("worker", "--master", f"127.0.0.1:{free_fixed_port()}", "--wait", "1", timeout=30)
    assert done.returncode == 1 and "no master at" in done.stderr


@pytest.mark.parametrize("argv", [["ramp", "--help"], ["limits"], ["--help"], ["ramp", "--to", "50", "--quiet"]])
def test_the_cli_process_never_imports_locust(argv):
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "netprobe", *argv], capture_output=True,
                          encoding="utf-8", timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-500:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert not {m for m in imported if m.split(".")[0] in ("locust", "zmq")}


def test_collecting_the_suite_imported_no_locust_here():
    """The test runner itself must stay unpatched: gevent's select has no epoll."""
    import sys as _sys

    assert "locust" not in _sys.modules


def _cli_ramp(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "netprobe", "ramp", "--quiet", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, encoding="utf-8", cwd=ROOT)


def _holding(server, hold: str, count: int = 100) -> subprocess.Popen:
    """A ramp of ``count`` from one local worker, once the server holds them, in a ``--hold`` of ``hold`` s."""
    ramp = _cli_ramp("--target", _target(server), "--workers", "1", "--spawn-local", "--to", str(count),
                     "--hold", hold)
    deadline = time.monotonic() + 30
    while server.status().held < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return ramp


@posix_only
@pytest.mark.slow
def test_sigint_during_a_long_hold_ends_the_ramp_at_once(server):
    ramp = _holding(server, "40")
    try:
        time.sleep(1)  # into the hold
        started = time.monotonic()
        ramp.send_signal(signal.SIGINT)
        _, err = ramp.communicate(timeout=60)
        took = time.monotonic() - started
    finally:
        _end(ramp)
    assert ramp.returncode == 130, err
    assert took < 15, f"SIGINT took {took:.1f} s to end a --hold 40"
    assert _drained(server) == 0


@posix_only
@pytest.mark.slow
def test_a_master_whose_cli_was_killed_ends_and_its_workers_with_it(server):
    ramp = _holding(server, "60")
    try:
        kids = psutil.Process(ramp.pid).children(recursive=True)
        ramp.kill()  # -9: no cleanup of its own
        ramp.wait()
        gone, alive = psutil.wait_procs(kids, timeout=20)
    finally:
        _end(ramp)
        for kid in psutil.Process().children(recursive=True):
            if kid.pid in {k.pid for k in kids}:
                kid.kill()
    assert not [k for k in alive if k.status() != psutil.STATUS_ZOMBIE], alive
    assert _drained(server) == 0


@posix_only
def test_sigint_before_any_worker_connects_is_130_not_a_crash(server):
    port = free_fixed_port()
    ramp = _cli_ramp("--target", _target(server), "--workers", "2", "--master-bind", f"127.0.0.1:{port}",
                     "--to", "10", "--worker-wait", "30")
    try:
        time.sleep(2)
        ramp.send_signal(signal.SIGINT)
        _, err = ramp.communicate(timeout=30)
    finally:
        _end(ramp)
    assert ramp.returncode == 130, err
    assert "Traceback" not in err and "min()" not in err


def test_ipv6_target_with_local_workers(child_server):
    try:
        v6 = child_server(ServerSpec(host="::1", want_fds=1024))
    except UsageError as exc:  # the server could not listen on ::1: no IPv6 loopback here
        pytest.skip(f"no IPv6 loopback: {exc}")
    host, port = v6.addresses[0]
    proc = run_netprobe("ramp", "--target", f"[{host}]:{port}", "--workers", "2", "--spawn-local", "--to", "200",
                        "--quiet", "--format", "json", timeout=120)
    assert proc.returncode == 0, proc.stderr or json.loads(proc.stdout)["verdict"]
    assert json.loads(proc.stdout)["reached"] == 200


@pytest.mark.slow
def test_a_stranger_on_the_master_port_changes_nothing_and_is_counted(server, tmp_path):
    """Raw bytes, plain ZeroMQ with fake hellos and a 10**18 report, CURVE with a stranger's key: all turned away."""
    out, port = tmp_path / "r.json", free_fixed_port()
    stranger = subprocess.Popen([sys.executable, str(ROOT / "tests" / "integration" / "hostile_peer.py"), str(port),
                                 "8", SECRET], stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8",
                                cwd=ROOT)
    started = [stranger]
    try:
        assert stranger.stdout is not None
        # The ramp starts once the stranger is ready: on a loaded machine a ramp can end before its imports do
        ready = stranger.stdout.readline()
        ramp = _cli_ramp("--target", _target(server), "--workers", "2", "--spawn-local", "--master-bind",
                         f"127.0.0.1:{port}", "--to", "2000", "--step", "500", "--hold", "1", "--format", "json",
                         "--output", str(out))
        started.append(ramp)
        tried, stranger_err = stranger.communicate(timeout=90)
        _, err = ramp.communicate(timeout=120)
    finally:
        _end(*started)
    assert ready.strip() == "ready", stranger_err
    assert ramp.returncode == 0, err
    assert {"raw", "zmq", "curve"} <= set(tried.split()), stranger_err
    data = json.loads(out.read_text("utf-8"))
    assert data["reached"] == 2000 and len(data["workers"]) == 2
    assert [w["held"] for w in data["workers"]] == [1000, 1000]
    security = " ".join(n["reason"] for n in data["notes"] if n["field"] == "security")
    assert "lacked the run's key" in security, data["notes"]
    assert _drained(server) == 0


def test_a_worker_facing_something_that_is_no_master_gives_up_within_its_wait(loopback_listener):
    host, port = loopback_listener.getsockname()[:2]
    started = time.monotonic()
    done = run_netprobe("worker", "--master", f"{host}:{port}", "--wait", "3", timeout=120)
    took = time.monotonic() - started
    assert done.returncode == 1 and "no master of this run answered" in done.stderr, done.stderr
    assert took < GIVES_UP_WITHIN, f"the worker took {took:.1f} s with --wait 3"


def test_a_worker_facing_a_listener_that_answers_http_gives_up_within_its_wait_in_one_line():
    """The peer breaks ZeroMQ's handshake with bytes of its own, so no hello can even be queued."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    accepted: list[socket.socket] = []
    done_serving = threading.Event()

    def answer_http() -> None:
        while not done_serving.is_set():
            try:
                peer, _ = listener.accept()
            except OSError:
                continue
            accepted.append(peer)
            peer.sendall(b"HTTP/1.1 200 OK\r\n\r\n")

    server_thread = threading.Thread(target=answer_http, daemon=True)
    server_thread.start()
    try:
        started = time.monotonic()
        done = run_netprobe("worker", "--master", f"127.0.0.1:{listener.getsockname()[1]}", "--wait", "3",
                            timeout=120, env={**os.environ, "NETPROBE_SECRET": SECRET})
        took = time.monotonic() - started
    finally:
        done_serving.set()
        server_thread.join(5)
        for peer in accepted:
            peer.close()
        listener.close()
    assert done.returncode == 1 and "no master of this run answered" in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert accepted and took < GIVES_UP_WITHIN, f"the worker took {took:.1f} s with --wait 3"


@posix_only
@pytest.mark.slow
def test_a_worker_whose_master_died_ends_and_closes_its_connections(server):
    port = free_fixed_port()
    ramp = _cli_ramp("--target", _target(server), "--workers", "1", "--master-bind", f"127.0.0.1:{port}",
                     "--to", "100", "--step", "100", "--hold", "120")
    worker = _worker(f"127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while server.status().held < 100 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.status().held == 100
        master = next(p for p in psutil.Process(ramp.pid).children() if "distributed.master" in " ".join(p.cmdline()))
        master.kill()  # no goodbye to its worker
        started = time.monotonic()
        _, err = worker.communicate(timeout=60)
        took = time.monotonic() - started
    finally:
        _end(ramp, worker)
    assert worker.returncode == 1 and "fell silent" in err, err
    assert took < 30, f"the worker outlived its master by {took:.1f} s"
    assert _drained(server) == 0


@posix_only  # the slow server is one held at an fd limit
@pytest.mark.slow
def test_a_server_that_stops_completing_handshakes_is_not_a_lost_worker(child_server, tmp_path):
    """Workers still retrying handshakes past the old step deadline say so; the stop is the server's."""
    from netprobe.distributed.pool import STEP_GRACE

    slow = child_server(ServerSpec(fd_limit=200))
    out = tmp_path / "r.json"
    done = run_netprobe("ramp", "--target", _target(slow), "--workers", "1", "--spawn-local", "--to", "6000",
                        "--step", "6000", "--timeout", "0.4", "--verify", "connect", "--quiet", "--format", "json",
                        "--output", str(out), timeout=180)
    data = json.loads(out.read_text("utf-8"))
    assert done.returncode == 1, done.stderr
    assert data["stop"]["reason"] != "worker_lost" and data["stop"]["side"] == "server", data["stop"]
    assert data["steps"][0]["seconds"] > 0.4 + STEP_GRACE, "the step no longer outlasts a fixed deadline"


def test_a_report_no_worker_could_send_names_its_worker(server, tmp_path):
    """A worker of this run (it has the secret) that claims 10**18 connections: named, and not counted."""
    port, out = free_fixed_port(), tmp_path / "r.json"
    ramp = _cli_ramp("--target", _target(server), "--workers", "1", "--master-bind", f"127.0.0.1:{port}",
                     "--to", "100", "--format", "json", "--output", str(out))
    liar = _altered_worker(port, "import dataclasses\n"
                                 "say = worker.Worker.say\n"
                                 "def lie(self, kind, record):\n"
                                 "    if isinstance(record, worker.HeldReport):\n"
                                 "        record = dataclasses.replace(record, held=10**18)\n"
                                 "    say(self, kind, record)\n"
                                 "worker.Worker.say = lie\n")
    try:
        _, err = ramp.communicate(timeout=60)
        liar.communicate(timeout=30)
    finally:
        _end(ramp, liar)
    assert ramp.returncode == 1, err
    data = json.loads(out.read_text("utf-8"))
    stop = data["stop"]
    assert stop["reason"] == "worker_lost" and stop["worker"] == data["workers"][0]["id"], stop
    assert "no worker could have sent" in stop["message"] and "1,000,000,000,000,000,000" in stop["message"]
    assert data["reached"] == 0
    assert _drained(server) == 0
