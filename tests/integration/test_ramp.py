"""Real ramps on loopback: each bounded in count and time, each leaving fds, children and TIME_WAIT as found."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest

from netprobe import platform
from netprobe.launch import run_spec
from netprobe.ramp.options import RampOptions, build_ramp_spec
from netprobe.selector_catalog import available_selectors
from tests.conftest import (
    ROOT,
    UNCAPPED_BACKEND,
    UNDER_WINE,
    needs_rlimit,
    run_netprobe,
    signal_netprobe,
    skip_unless_linux,
    skip_unless_root,
)

SELECT_CAP = platform.probe_select_cap()
# Where select() caps a count of sockets (Windows: 512), DefaultSelector is select itself.
TARGET = 1000 if SELECT_CAP.kind == "fd_number" else 400
fd_number_select = pytest.mark.skipif(SELECT_CAP.kind != "fd_number", reason="select() caps fd numbers on POSIX only")


pytestmark = pytest.mark.usefixtures("no_time_wait_flood")


def ramp(**options):
    return run_spec(build_ramp_spec(RampOptions(**options)))


@pytest.mark.parametrize("server", ["process", "thread"])
@pytest.mark.parametrize("client", ["nonblocking", "threads", "gevent"])
def test_reaches_1000_in_every_placement_and_client_model(server, client):
    result = ramp(to=TARGET, placement=server, client=client, backend=UNCAPPED_BACKEND)
    assert result.ok and result.stop is None, result.stop
    assert result.reached == TARGET
    assert [s.connections for s in result.steps] == list(range(TARGET // 10, TARGET + 1, TARGET // 10))
    last = result.steps[-1]
    assert last.p50_ms is not None and last.p99_ms >= last.p50_ms
    if last.client_fds is None and UNDER_WINE:
        return  # Wine's psutil counts no handles: unknown, shown as such
    assert last.client_fds >= TARGET
    if server == "process":
        assert last.server_fds >= TARGET and last.server_rss > 0
    else:
        assert last.client_fds >= 2 * TARGET  # both ends in one process


@needs_rlimit
def test_fd_limit_256_stops_the_server_where_predicted():
    result = ramp(to=1000, fd_limit=256)
    assert not result.ok
    assert (result.stop.reason, result.stop.side, result.stop.errno) == ("fd_limit", "server", "EMFILE")
    assert 200 <= result.reached <= 256
    assert abs(result.predicted.max_connections - result.reached) <= 8
    assert result.predicted.binding_limit == "fd_limit"
    assert "ulimit -n" in result.stop.remedy


@fd_number_select
def test_select_stops_at_fd_1024_in_its_own_process():
    result = ramp(to=2000, selector="select")
    assert (result.stop.reason, result.stop.side) == ("select_limit", "server")
    assert 1000 <= result.reached <= 1022
    assert abs(result.predicted.max_connections - result.reached) <= 5
    assert "1024" in result.stop.message
    assert "epoll" in result.stop.remedy


@fd_number_select
@pytest.mark.parametrize("backend, selector", [("selectors", "select"), ("select", None)])
def test_in_one_process_the_nonblocking_client_keeps_its_fds_out_of_select(backend, selector):
    """Its fds move above FD_SETSIZE, so select() meets the server's own connections, 1 fd number each."""
    result = ramp(to=2000, backend=backend, selector=selector, placement="thread")
    assert (result.stop.reason, result.stop.side) == ("select_limit", "server")
    assert 1000 <= result.reached < 1024
    assert abs(result.predicted.max_connections - result.reached) <= 8
    assert result.peak.client_fds >= 2 * result.reached  # the fd count still pays for both ends


@fd_number_select
@pytest.mark.slow
def test_in_one_process_threads_share_fd_numbers_with_a_select_server():
    """Clients that cannot move their fds fill select()'s fd numbers too: 2 per connection."""
    result = ramp(to=1000, selector="select", placement="thread", client="threads", step=100)
    assert result.stop.reason == "select_limit"
    assert 400 <= result.reached <= 512
    assert abs(result.predicted.max_connections - result.reached) <= 60


@pytest.mark.parametrize("selector", ["poll", "epoll"])
def test_poll_and_epoll_go_past_fd_setsize(selector):
    if f"{selector.capitalize()}Selector" not in available_selectors():
        pytest.skip(f"no {selector} here")
    result = ramp(to=3000, selector=selector, step=1000)
    assert result.ok and result.reached == 3000
    assert result.peak.server_fds > 3000


def test_target_with_connect_verification(child_server):
    host, port = child_server().addresses[0]
    result = ramp(to=200, target=f"{host}:{port}")
    assert result.config.verify == "connect"
    assert result.ok and result.reached == 200


@skip_unless_linux
def test_a_listener_that_never_accepts_holds_nothing(loopback_listener):
    """The kernel completes the handshakes, but nothing is held until the server accepts (issue 17)."""
    port = loopback_listener.getsockname()[1]
    result = ramp(to=200, target=f"127.0.0.1:{port}")
    assert not result.ok and result.reached == 0
    assert result.stop.reason == "stopped_accepting" and result.stop.unaccepted > 0


def test_target_with_nothing_listening_is_refused():
    with socket.socket() as reserved:  # bound, not listening: the port is ours and refuses
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        result = ramp(to=10, target=f"127.0.0.1:{port}")
    assert not result.ok and result.reached == 0
    assert (result.stop.reason, result.stop.side) == ("refused", "server")


def test_nothing_listening_is_one_line_on_the_terminal_and_a_whole_report_in_the_file(tmp_path):
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        shown = run_netprobe("ramp", "--target", f"127.0.0.1:{port}", "--to", "10")
        out = tmp_path / "r.json"
        filed = run_netprobe("ramp", "--target", f"127.0.0.1:{port}", "--to", "10", "-f", "json", "-o", str(out))
    line = f"netprobe: nothing listens on 127.0.0.1:{port}"
    assert shown.returncode == 1 and shown.stdout == "" and shown.stderr.startswith(line), shown
    assert shown.stderr.count("\n") == 1
    assert filed.returncode == 1 and filed.stderr.startswith(line)
    document = json.loads(out.read_text("utf-8"))
    assert document["stop"]["reason"] == "refused" and "nothing listens there" in document["verdict"]


def test_a_probe_without_a_target_is_bad_input():
    done = run_netprobe("ramp", "--probe", "redis", "--to", "10")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "--target" in done.stderr, done.stderr


@skip_unless_linux
def test_more_ports_and_source_addresses():
    result = ramp(to=600, ports=2, source_ips=3)
    assert result.ok and result.reached == 600


@needs_rlimit
def test_thread_placement_fd_limit_runs_in_a_child_and_restores(tmp_path):
    # --server thread --fd-limit lowers this process's limit: run it as a child, never in the runner.
    out = tmp_path / "r.json"
    proc = run_netprobe("ramp", "--server", "thread", "--fd-limit", "256", "--to", "1000",
                        "--format", "json", "--output", str(out))
    assert proc.returncode == 1, proc.stderr
    data = json.loads(out.read_text("utf-8"))
    assert data["stop"]["reason"] == "fd_limit"
    assert 100 <= data["reached"] <= 128


@pytest.mark.skipif(platform.NAME == "windows", reason="Windows delivers Ctrl-C to consoles, not to a pid")
def test_sigint_mid_ramp_exits_130_with_a_partial_report(tmp_path):
    out = tmp_path / "r.json"
    status, err, kids = signal_netprobe(["ramp", "--to", "8000", "--step", "400", "--hold", "0.5",
                                         "--format", "json", "--output", str(out)], (signal.SIGINT,), timeout=30)
    assert status == 130, err
    data = json.loads(out.read_text("utf-8"))
    assert data["stop"]["reason"] == "interrupted" and 0 < data["reached"] < 8000
    assert kids and not any(k.is_running() and k.status() != psutil.STATUS_ZOMBIE for k in kids)


# Python's own start-up (site, the package's lookup) is past once this prints; then netprobe runs as
# ``python -m netprobe`` would.
_AFTER_SITE = ("import importlib.util, runpy, sys; importlib.util.find_spec('netprobe.__main__'); "
               "print('started', flush=True); sys.argv = ['netprobe', *sys.argv[1:]]; "
               "runpy.run_module('netprobe', run_name='__main__', alter_sys=True)")


@pytest.mark.slow
@pytest.mark.skipif(platform.NAME == "windows", reason="Windows delivers Ctrl-C to consoles, not to a pid")
def test_ctrl_c_at_any_moment_of_start_up_ends_with_130_and_one_line():
    # A sweep across the first half second: loading the CLI's modules, starting the server, the first step.
    for delay in [0.005 + i * 0.025 for i in range(20)]:
        proc = subprocess.Popen([sys.executable, "-c", _AFTER_SITE, "ramp", "--to", "10", "--hold", "3"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8", cwd=ROOT)
        try:
            assert proc.stdout is not None and proc.stdout.readline() == "started\n"
            time.sleep(delay)
            kids = psutil.Process(proc.pid).children(recursive=True)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 130 and "Traceback" not in err, (delay, proc.returncode, err[-2000:])
        assert not any(k.is_running() and k.status() != psutil.STATUS_ZOMBIE for k in kids), delay


@skip_unless_linux
@skip_unless_root
def test_port_exhaustion_in_a_network_namespace_with_a_narrow_range():
    # Looked up here, not at import: under the simulated Windows lane shutil.which takes Windows's path.
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs unshare and ip")
    script = ("ip link set lo up && echo '40000 40199' > /proc/sys/net/ipv4/ip_local_port_range && "
              f"exec {sys.executable} -m netprobe ramp --to 500 --format json")
    proc = subprocess.run(["unshare", "--net", "sh", "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        pytest.skip(f"network namespaces are not allowed here: {proc.stderr.strip()[:200]}")
    data = json.loads(proc.stdout)
    assert (data["stop"]["reason"], data["stop"]["side"]) == ("port_exhaustion", "client")
    assert data["stop"]["errno"] == "EADDRNOTAVAIL"
    assert data["predicted"]["binding_limit"] == "port_exhaustion"
    assert data["reached"] == data["predicted"]["max_connections"] == 199
    assert "ip_local_port_range" in data["stop"]["remedy"]
    # The remedy works: two server ports are two destinations, each with the whole range.
    script = script.replace("--to 500", "--to 380 --ports 2")
    proc = subprocess.run(["unshare", "--net", "sh", "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    data = json.loads(proc.stdout)
    assert data["ok"] and data["reached"] == 380
    assert data["predicted"]["max_connections"] == 2 * (200 - 2)


def test_report_keeps_the_json_contract():
    result = ramp(to=50).to_dict()
    assert result["schema"] == "netprobe.ramp/1"
    assert set(result["peak"]) == {"client_fds", "server_fds", "client_rss", "server_rss"}
    assert set(result["predicted"]) >= {"max_connections", "binding_limit"}
    for step in result["steps"]:
        assert set(step) >= {"connections", "client_fds", "server_fds", "client_rss", "server_rss",
                             "p50_ms", "p99_ms", "seconds", "rate"}
    assert result["config"]["to"] == 50 and result["config"]["selector_class"]
    assert platform.NAME in ("linux", "darwin", "windows", "posix")


@needs_rlimit
def test_without_a_target_the_ramp_runs_to_the_first_limit_and_succeeds():
    result = ramp(fd_limit=256, step=100)
    assert result.ok and result.to is None
    assert result.stop.reason == "fd_limit" and 200 <= result.reached <= 256


def test_without_a_target_and_no_limit_the_safety_ceiling_stops_it():
    result = ramp(max=300, step=100)
    assert result.ok and result.stop is None and result.reached == 300


def test_guards_stop_before_the_system_runs_short():
    from netprobe.platform import SystemFacts
    from netprobe.ramp.budget import guard as _guard

    nearly_full = SystemFacts(system_max=100_000, system_in_use=99_000)
    assert _guard(lambda: nearly_full, 1000)[0] == "system_fd_limit"
    roomy = SystemFacts(system_max=10_000_000, system_in_use=1000)
    assert _guard(lambda: roomy, 1000) is None
    import psutil

    too_many = psutil.virtual_memory().available // 1024  # at ~10 KiB each, memory would run out
    assert _guard(lambda: SystemFacts(), too_many)[0] == "memory"  # no file-table facts (as on Windows)
