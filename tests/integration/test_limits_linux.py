"""`netprobe limits` against the truth of this Linux machine, read independently."""

import json
import selectors

import pytest

from netprobe.limits import collect_limits
from tests.conftest import in_child, run_netprobe, skip_unless_linux

pytestmark = skip_unless_linux
resource = pytest.importorskip("resource", reason="RLIMIT_NOFILE is POSIX")
# Files the machine may open or close around one read of ``limits`` for it to count as still, and
# how many reads to try for one such moment.
STILL, STILL_TRIES = 100, 20


def _read(path, index=0):
    with open(path) as f:
        return int(f.read().split()[index])


def test_facts_match_proc_and_getrlimit():
    report = collect_limits()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert (report.fds.soft, report.fds.hard) == (soft, hard)
    assert report.fds.system_max == _read("/proc/sys/fs/file-max")
    assert report.fds.per_process_max == _read("/proc/sys/fs/nr_open")
    assert report.network.somaxconn == _read("/proc/sys/net/core/somaxconn")
    low = _read("/proc/sys/net/ipv4/ip_local_port_range", 0)
    high = _read("/proc/sys/net/ipv4/ip_local_port_range", 1)
    ports = report.network.ephemeral_ports
    assert (ports.low, ports.high, ports.count) == (low, high, high - low + 1)
    sel = selectors.DefaultSelector()
    assert report.selectors.default == type(sel).__name__
    sel.close()


def test_files_in_use_are_the_first_field_of_file_nr_read_around_them():
    """In use moves as the machine works (other tests open thousands): judged where it held still around the read."""
    for _ in range(STILL_TRIES):
        before = _read("/proc/sys/fs/file-nr")
        in_use = collect_limits().fds.system_in_use
        after = _read("/proc/sys/fs/file-nr")
        if abs(after - before) <= STILL:
            assert in_use is not None and min(before, after) - STILL <= in_use <= max(before, after) + STILL, \
                (before, in_use, after)
            return
    pytest.skip(f"the machine's files in use moved by more than {STILL} around each of {STILL_TRIES} reads")


def test_select_cap_is_fd_setsize_1024_as_an_fd_number():
    cap = collect_limits().selectors.caps["SelectSelector"]
    assert (cap.kind, cap.limit) == ("fd_number", 1024)


def test_probe_leaves_the_soft_limit_as_it_was():
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    collect_limits()
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == before


@pytest.mark.parametrize("soft", [256, 1000])
def test_lowered_soft_limit_in_a_child_lowers_the_prediction(soft):
    result = run_netprobe("limits", "--format", "json", preexec_fn=in_child(soft), timeout=30)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["fds"]["soft"] == soft
    for p in data["predicted"]:
        if p["selector"] in ("EpollSelector", "PollSelector"):
            per_conn = 1 if p["placement"] == "process" else 2
            assert p["binding_limit"] == "fd_limit"
            assert soft // per_conn - 20 <= p["max_connections"] <= soft // per_conn
    # select's cap is a property of the build, measured the same under a low soft limit.
    assert data["selectors"]["caps"]["SelectSelector"] == {
        "kind": "fd_number", "limit": 1024, "detail": data["selectors"]["caps"]["SelectSelector"]["detail"]}
