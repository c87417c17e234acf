"""Shared fixtures: every test must leave no fds, children or threads behind, as psutil's tests insist."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import psutil
import pytest

from netprobe import platform

DATA = Path(__file__).parent / "data"

#: Running the Windows interpreter under Wine (ci/wine_lane.py), whose kernel is not Windows'.
UNDER_WINE = (platform.compatibility_layer() or "").startswith("Wine")


def wine_differs(how: str) -> pytest.MarkDecorator:
    """Skip a test under Wine only, where Wine is known to differ from Windows (docs/platforms.md lists each)."""
    return pytest.mark.skipif(UNDER_WINE, reason=f"Wine differs from Windows: {how}")


#: A server backend that holds thousands here: where select() counts sockets (Windows: 512), the
#: default selectors server stops at 511 by design, so a test whose subject is not the server
#: ramps asyncio (the proactor there) instead.
UNCAPPED_BACKEND = "asyncio" if platform.SELECT_COUNTS_SOCKETS else "selectors"

# Tests that count replies under traffic, not the knee, allow this late a reply (ms): a loaded CI
# machine's slow step must not end their ramp as a latency knee.
LATE_MS = 60_000
# Knees that name the machine or the measuring side, not the server: a test that counts replies on a
# loaded CI machine may meet one, and then judges the steps that ran.
MACHINE_KNEES = {"cpu_contention", "client_cpu", "shared_cpu"}


def stopped_by_a_busy_machine(document: dict) -> bool:
    """Whether a ramp's JSON stopped at a knee of the machine or the client (evidence named it), not of the server."""
    stop = document.get("stop") or {}
    return stop.get("reason") == "latency_knee" and stop.get("cause") in MACHINE_KNEES


# pytest -n auto: tests wait on sockets, servers and timeouts more than they compute, so a core
# keeps two busy (three starved the distributed tests' workers of CPU beside the Windows lane);
# past MAX_WORKERS each worker's own servers and fixtures cost more than it saves.
WORKERS_PER_CORE, MAX_WORKERS = 2, 8


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """How many workers ``-n auto`` starts: two a core, at most eight."""
    return max(2, min(MAX_WORKERS, WORKERS_PER_CORE * (os.cpu_count() or 1)))


def fd_limit_refusal(posix_problem: str) -> str:
    """What refuses an --fd-limit here: ``posix_problem`` where RLIMIT_NOFILE exists, else its absence."""
    return posix_problem if platform.HAS_RLIMIT else "needs RLIMIT_NOFILE"
ROOT = Path(__file__).parent.parent


def _snapshot() -> tuple[int, set[int], int]:
    me = psutil.Process()
    # Windows counts handles, which its own thread pools open and close at will: only POSIX
    # fds are stable enough to compare exactly.
    fds = platform.process_fds(me) if platform.HAS_RLIMIT else 0
    return fds, {c.pid for c in me.children(recursive=True)}, threading.active_count()


@pytest.fixture(scope="session", autouse=True)
def enough_fds_for_the_suite():
    """Raise the runner's soft fd limit (macOS starts at 256), as CPython's test_selectors does.

    Raised, never lowered: tests that need a low limit set it in a child process.
    """
    if not platform.HAS_RLIMIT:
        yield
        return
    before, _, _ = platform.fd_limits()
    platform.raise_soft_fd_limit(8192)
    yield
    if before is not None:
        platform.set_soft_fd_limit(before)


@pytest.fixture(scope="session", autouse=True)
def the_suite_keeps_out_of_the_users_home():
    """A shared secret for distributed runs, a cache of the suite's own, and no terminal width of the runner's."""
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory(prefix="netprobe-cache-") as cache:
        patch.setenv("NETPROBE_SECRET", "the test suite's shared secret, 0123456789")
        patch.setenv("XDG_CACHE_HOME", cache)  # limits' measured kernel memory, never in the user's cache
        # The width of the runner's own terminal is not the commands' (pytest-xdist's workers set
        # COLUMNS=80): a test that wants a width gives it to the command it runs.
        patch.delenv("COLUMNS", raising=False)
        patch.delenv("LINES", raising=False)
        yield


@pytest.fixture(autouse=True)
def no_leaks():
    """Fail a test that leaves an fd, a child process or a thread behind."""
    fds, children, threads = _snapshot()
    yield
    deadline = time.monotonic() + 5
    while True:
        now_fds, now_children, now_threads = _snapshot()
        leaked = (now_fds > fds, bool(now_children - children), now_threads > threads)
        if not any(leaked) or time.monotonic() > deadline:
            break
        time.sleep(0.05)  # children being reaped, daemon threads finishing
    assert now_fds <= fds, f"test leaked {now_fds - fds} fds"
    assert not now_children - children, f"test left children {now_children - children}"
    assert now_threads <= threads, f"test left {now_threads - threads} threads"


def time_wait_entries() -> Optional[set[tuple[int, int, str]]]:
    """TIME_WAIT entries on this machine as (local port, remote port, line id) (Linux /proc/net/tcp*, state 06).

    None on other systems: the check is Linux's. (The Windows interpreter under Wine could open the
    host's /proc, which is not its own kernel's account.)
    """
    if platform.NAME != "linux":
        return None
    entries = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                for line in f:
                    fields = line.split()
                    if fields[3:4] == ["06"]:
                        local, remote = fields[1], fields[2]
                        entries.add((int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16),
                                     f"{local}-{remote}"))
        except OSError:
            pass
    return entries


class ListeningPorts(threading.Thread):
    """The ports this process and its children listen on, sampled until stopped: what a test made."""

    INTERVAL = 0.05

    def __init__(self) -> None:
        super().__init__(name="test-listening-ports", daemon=True)
        self.ports: set[int] = set()
        self._done = threading.Event()

    def sample(self) -> None:
        me = psutil.Process()
        for proc in [me, *me.children(recursive=True)]:
            try:
                conns = proc.net_connections(kind="tcp")
            except (psutil.Error, OSError):
                continue
            self.ports.update(c.laddr.port for c in conns if c.status == psutil.CONN_LISTEN)

    def run(self) -> None:
        while not self._done.wait(self.INTERVAL):
            self.sample()

    def stop(self) -> set[int]:
        self._done.set()
        self.join()
        self.sample()
        return self.ports


@pytest.fixture
def no_time_wait_flood():
    """Fail a ramp test that leaves TIME_WAIT entries behind on its own ports (netprobe closes with RST).

    Only entries on a port this test's processes listened on count: other programs on the
    machine may make and close connections meanwhile without failing the suite.
    """
    before = time_wait_entries()
    if before is None:
        # Nothing to compare with; and sampling psutil's connections every 50 ms walks the machine's
        # whole TCP table on Windows (under Wine, slowly enough to slow the ramp it watches).
        yield
        return
    watcher = ListeningPorts()
    watcher.start()
    yield
    ports = watcher.stop()
    after = time_wait_entries() or set()
    own = [e for e in after - before if e[0] in ports or e[1] in ports]
    assert len(own) <= 20, f"the ramp left {len(own)} TIME_WAIT entries behind on its ports"


@contextmanager
def netprobe_process(*args: str, **popen) -> Iterator[subprocess.Popen]:
    """The netprobe CLI as a running process; whatever the test does, it is killed and reaped at the end."""
    popen.setdefault("cwd", ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "netprobe", *args], **popen)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def child_server():
    """Start netprobe servers in child processes (``child_server(spec)``); every one is closed after the test."""
    from netprobe.servers.process import ChildServer
    from netprobe.servers.spec import ServerSpec

    started = []

    def start(spec=None):
        server = ChildServer(spec or ServerSpec(want_fds=1024))
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def run_netprobe(*args: str, timeout: float = 120, env=None, preexec_fn=None) -> subprocess.CompletedProcess:
    """Run the netprobe CLI as a real subprocess of this Python; its output is UTF-8 on every OS."""
    return subprocess.run(
        [sys.executable, "-m", "netprobe", *args], capture_output=True, encoding="utf-8", timeout=timeout,
        env=env, preexec_fn=preexec_fn,
    )


@pytest.fixture(scope="session")
def ceilings_document() -> str:
    """``ramp --backend all --to 50 --format json``'s output, made once per worker: tests read it, none changes it."""
    proc = run_netprobe("ramp", "--backend", "all", "--to", "50", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def signal_netprobe(args: list, signals: tuple, settle: float = 1.5, gap: float = 0.005,
                    timeout: float = 60, env: Optional[dict] = None, poll: float = 0.05) -> tuple[int, str, list]:
    """Start netprobe, wait for its first child (looking every ``poll`` s) and ``settle`` s, send ``signals``.

    Returns (exit status, stderr, the child processes it had), the process reaped whatever happens.
    """
    proc = subprocess.Popen([sys.executable, "-m", "netprobe", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, encoding="utf-8", cwd=ROOT, env=env)
    try:
        kids = wait_for_children(proc.pid, poll=poll)
        time.sleep(settle)
        for i, sig in enumerate(signals):
            if i:
                time.sleep(gap)
            proc.send_signal(sig)
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err, kids


def wait_for_children(pid: int, timeout: float = 20.0, poll: float = 0.05) -> list:
    """The child processes of ``pid`` once it has any (within ``timeout``, looking every ``poll`` s), else []."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            kids = psutil.Process(pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        if kids:
            return kids
        time.sleep(poll)
    return []


def in_child(soft: int):
    """A preexec_fn lowering the child's soft RLIMIT_NOFILE: never the test runner's own (POSIX)."""
    import resource

    def lower() -> None:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return lower


@pytest.fixture
def loopback_listener():
    """A plain listening socket on 127.0.0.1, port 0, closed after the test."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    yield sock
    sock.close()


# Below every OS's default ephemeral range (Linux 32768-60999; Windows and macOS 49152-65535), so that no
# connect() elsewhere on the machine takes the port between our check and a child's bind
UNCLAIMED_PORTS = range(20_000, 32_000)


def free_fixed_port() -> int:
    """A loopback TCP port free now, for a child that must be told its port before it binds it.

    A port 0 bind hands out one from the ephemeral range, which the other lanes' thousands of
    connections keep taking: a child binding it seconds later (ZeroMQ under Wine binds without
    SO_REUSEADDR) then finds it in use. This one is drawn below that range.
    """
    import random
    import socket

    for port in random.sample(UNCLAIMED_PORTS, 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {UNCLAIMED_PORTS}")


skip_unless_linux = pytest.mark.skipif(platform.NAME != "linux", reason="Linux only")
needs_rlimit = pytest.mark.skipif(not platform.HAS_RLIMIT, reason="needs RLIMIT_NOFILE (POSIX)")
skip_unless_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
