"""Traffic over held connections (`ramp --rate`): every step measured, and the knee found and named by evidence.

The knee is injected for real: a netprobe server whose every reply burns a fixed CPU time
(`serve --cost-us`), so its capacity is known (about a million over the cost, in replies a
second, on one core). Bounds are wide and nothing is timed: the benchmark
`benchmarks/traffic_knee.py` checks how close the knee comes to the measured capacity.
"""

from __future__ import annotations

import json
import selectors
import socket
import threading

import pytest

from netprobe import platform
from netprobe.clients.traffic import Tally, TrafficCount, TrafficPlan, decode_histogram
from netprobe.servers.spec import ServerSpec
from netprobe.sockets import format_address
from tests.conftest import LATE_MS, run_netprobe, stopped_by_a_busy_machine, wine_differs

COST_US = 5000  # 5 ms of CPU a reply: about 200 replies a second on one core


def _json(proc) -> dict:
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def test_every_step_under_traffic_reports_what_it_asked_and_what_came_back():
    doc = _json(run_netprobe("ramp", "--rate", "5", "--to", "200", "--step", "100", "--hold", "1",
                             "--max-latency", str(LATE_MS), "--format", "json"))
    assert (doc["ok"] is True and doc["reached"] == 200) or stopped_by_a_busy_machine(doc), doc["verdict"]
    for step in doc["steps"]:
        t = step["traffic"]
        assert t["connections"] == step["connections"]
        assert t["asked_rate"] == pytest.approx(5 * step["connections"])
        assert t["sent"] > 0 and t["answered"] == t["sent"] and t["errors"] == t["timeouts"] == 0
        assert 0 < t["p50_ms"] <= t["p99_ms"] <= t["p999_ms"] <= t["max_ms"]


def test_an_idle_ramp_has_no_traffic():
    doc = _json(run_netprobe("ramp", "--to", "20", "--format", "json"))
    assert [s["traffic"] for s in doc["steps"]] == [None] * len(doc["steps"])


@wine_differs("psutil gives another process's CPU time as the caller's own")
@pytest.mark.slow
def test_a_server_with_cpu_work_per_reply_is_the_knee_named_server_cpu(child_server):
    server = child_server(ServerSpec(want_fds=1024, cost_us=COST_US))
    target = format_address(server.addresses[0])
    proc = run_netprobe("ramp", "--target", target, "--verify", "echo", "--rate", "1", "--step", "50", "--hold", "1",
                        "--max", "800", "--format", "json", timeout=180)
    doc = _json(proc)
    stop = doc["stop"]
    assert stop is not None and stop["reason"] == "latency_knee", doc["verdict"]
    assert proc.returncode == 0 and doc["ok"] is True  # a knee is a wall of the server's capacity
    capacity = 1_000_000 / COST_US
    assert capacity / 4 <= doc["reached"] <= capacity * 4, doc["verdict"]
    # The server's CPU is read on this machine (psutil everywhere; the run queue where the OS says). A
    # machine too loaded to run it when it was ready (a CI lane beside others) is named for that instead.
    assert (stop["cause"], stop["side"]) in {("server_cpu", "server"), ("cpu_contention", "server")}, stop["message"]
    assert "stop.cause" not in stop["remedy"]


@pytest.mark.slow
def test_a_knee_stops_a_ramp_short_of_its_target_with_exit_1(child_server):
    server = child_server(ServerSpec(want_fds=1024, cost_us=COST_US))
    proc = run_netprobe("ramp", "--target", format_address(server.addresses[0]), "--verify", "echo",
                        "--total-rate", "2000", "--to", "100", "--step", "50", "--hold", "1", "--format", "json")
    doc = _json(proc)
    assert proc.returncode == 1 and doc["ok"] is False
    assert doc["stop"]["reason"] == "latency_knee"
    first = doc["steps"][0]["traffic"]
    assert first["asked_rate"] == pytest.approx(2000, rel=0.01)  # over every connection, not each


@pytest.mark.parametrize("args, problem", [
    (["--rate", "0"], "--rate must be greater than 0"),
    (["--rate", "5", "--total-rate", "50"], "give one"),
    (["--max-latency", "50"], "--max-latency goes with traffic"),
    (["--request", "hex:00"], "--request goes with traffic"),
    (["--rate", "5", "--request", "ping"], "hex:BYTES"),
    (["--rate", "5", "--request", "hex:zz"], "not hexadecimal"),
    (["--rate", "5", "--target", "127.0.0.1:9"], "--probe"),
    (["--rate", "5", "--target", "127.0.0.1:9", "--probe", "postgres"], "once per connection"),
    (["--rate", "1e9"], "above"),
])
def test_bad_traffic_options_are_one_line_and_exit_2(args, problem):
    proc = run_netprobe("ramp", "--to", "10", *args)
    assert proc.returncode == 2, proc.stderr
    assert problem in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_traffic_counts_add_up_exactly_across_holders():
    plan = TrafficPlan(2.0, None, 1.0, 1.0)
    parts = []
    for latencies in ([0.001] * 90, [0.5] * 10):
        tally = Tally()
        for seconds in latencies:
            tally.record(seconds)
        tally.sent = tally.answered = len(latencies)
        tally.connections, tally.seconds = len(latencies), 1.0
        parts.append(TrafficCount.from_json(tally.count().to_json()))
    total = Tally()
    for part in parts:
        assert part.problem(held=100) is None
        total.add(part)
    stats = total.stats(plan)
    assert (stats.sent, stats.answered, stats.connections) == (100, 100, 100)
    assert stats.p50_ms == pytest.approx(1.0, rel=0.01) and stats.p99_ms == pytest.approx(500.0, rel=0.01)


@pytest.mark.parametrize("histogram", ["garbage", "HISTFAAAA", "x" * (2 << 20)])
def test_a_traffic_count_from_elsewhere_with_a_bad_histogram_is_not_believed(histogram):
    count = TrafficCount(1, 1, 1, 0, 0, 1.0, histogram)
    assert count.problem(held=1) is not None
    with pytest.raises(ValueError):
        decode_histogram(histogram)


def test_a_traffic_count_that_no_holder_could_have_sent_is_named():
    assert TrafficCount(5, 1, 2, 0, 0, 1.0, "").problem(held=10) is not None  # more answers than requests
    assert TrafficCount(50, 1, 1, 0, 0, 1.0, "").problem(held=10) is not None  # more connections than held
    assert TrafficCount(1, 1, 1, -1, 0, 1.0, "").problem(held=10) is not None
    assert TrafficCount(1, 1, 1, 0, 0, 1.0, "", sent_late=2).problem(held=10) is not None  # more late than sent


@pytest.mark.skipif(platform.NAME != "linux", reason="the run queue is read from /proc (Linux schedstat)")
def test_cpu_demand_counts_running_and_waiting_to_run():
    import os
    import time

    before = platform.cpu_demand([os.getpid()])
    until = time.perf_counter() + 0.2
    while time.perf_counter() < until:
        pass
    after = platform.cpu_demand([os.getpid()])
    assert before is not None and after is not None and after - before >= 0.15
    assert platform.cpu_demand([2**22 + 12345]) is None  # no such process


def test_a_request_of_the_users_own_carries_traffic_where_the_check_is_a_handshake(child_server):
    server = child_server(ServerSpec(want_fds=1024))
    doc = _json(run_netprobe("ramp", "--target", format_address(server.addresses[0]), "--probe", "hex:68656c6c6f",
                             "--request", "hex:70696e670a", "--rate", "4", "--to", "20", "--step", "10", "--hold",
                             "1", "--max-latency", str(LATE_MS), "--format", "json"))
    assert doc["ok"] is True or stopped_by_a_busy_machine(doc), doc["verdict"]
    for step in doc["steps"]:
        assert step["traffic"]["answered"] == step["traffic"]["sent"] > 0


def _once_only_server(listener: socket.socket, stop: threading.Event) -> None:
    """Answer each connection's first message; close it at a second (as an MQTT broker does at a second CONNECT)."""
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    seen: dict[socket.socket, int] = {}
    while not stop.is_set():
        for key, _ in sel.select(0.05):
            if key.fileobj is listener:
                conn, _ = listener.accept()
                seen[conn] = 0
                sel.register(conn, selectors.EVENT_READ)
                continue
            conn = key.fileobj
            try:
                data = conn.recv(4096)
            except OSError:  # reset: netprobe closes abortively
                data = b""
            seen[conn] += 1
            if not data or seen[conn] > 1:
                sel.unregister(conn)
                seen.pop(conn)
                conn.close()
            else:
                conn.sendall(b"ok")
    for conn in seen:
        conn.close()
    sel.close()


def test_a_hex_probe_is_a_handshake_never_sent_again_at_a_recheck():
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    thread = threading.Thread(target=_once_only_server, args=(listener, stop))
    thread.start()
    try:
        doc = _json(run_netprobe("ramp", "--target", f"127.0.0.1:{listener.getsockname()[1]}", "--probe",
                                 "hex:10", "--to", "40", "--step", "10", "--format", "json"))
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert doc["ok"] is True and doc["reached"] == 40, doc["verdict"]
