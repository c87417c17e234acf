"""The knee's cause from CPU evidence: a server of several processes is CPU-bound when one of them is."""

from __future__ import annotations

import dataclasses

import pytest

from netprobe.causes import StopCause
from netprobe.clients.traffic import TrafficPlan, TrafficStats
from netprobe.models.ramp import RampStep
from netprobe.ramp.knee import Busy, Demand, Knee, Sides, busy_percent, knee_of, stall_percent
from netprobe.vocabulary import Side

PLAN = TrafficPlan(rate=10.0, total_rate=None, seconds=2.0, timeout=1.0, max_latency_ms=100.0)
ONE_EACH = Sides(server_processes=1, client_processes=1, shared=False)  # one server process, one client


def _step(connections: int, **traffic) -> RampStep:
    stats = TrafficStats(connections, 10.0 * connections, 10.0 * connections, 20 * connections,
                         20 * connections, 0, 0, 5.0, 20.0, 30.0, 40.0, 2.0)
    fields = {f.name: None for f in dataclasses.fields(RampStep)}
    fields.update(connections=connections, seconds=0.1, rate=1000.0, traffic=dataclasses.replace(stats, **traffic))
    return RampStep(**fields)


def _knee_of_one_step(connections: int, **traffic) -> Knee:
    """The knee of a ramp of one step, one server process and one client, which must have one."""
    knee = knee_of([_step(connections, **traffic)], PLAN, ONE_EACH)
    assert knee is not None
    return knee


def test_one_saturated_worker_beside_idle_ones_is_a_cpu_bound_server():
    """nginx: an idle master, two idle workers and one at a whole core sum to 100% of three cores' 300%."""
    steps = [_step(100, server_cpu=40.0, server_busy=42.0, server_busiest=40.0),
             _step(200, server_cpu=99.0, server_busy=101.0, server_busiest=97.0, p99_ms=450.0)]
    knee = knee_of(steps, PLAN, Sides(server_processes=4, client_processes=1, shared=False))
    assert knee is not None and knee.cause == StopCause.SERVER_CPU, knee
    assert "busiest process ran or waited to run 97%" in knee.message


def test_without_the_busiest_reading_the_sum_alone_decides():
    steps = [_step(200, server_cpu=99.0, server_busy=101.0, server_busiest=None, p99_ms=450.0)]
    knee = knee_of(steps, PLAN, Sides(server_processes=4, client_processes=1, shared=False))
    assert knee is not None and knee.cause == StopCause.SERVER_WAITS


def test_busy_percent_reads_each_server_process_and_unknown_stays_unknown():
    before = Demand(1.0, {10: 0.0, 11: 5.0, 12: 0.0})
    after = Demand(1.5, {10: 0.1, 11: 6.9, 12: 0.1})
    assert busy_percent(before, after, 2.0) == Busy(25.0, 105.0, 95.0)
    assert busy_percent(before, Demand(None, {10: 0.1, 11: None, 12: 0.1}), 2.0) == Busy(None, None, None)
    assert busy_percent(Demand(None, {}), Demand(None, {}), 2.0) == Busy(None, None, None)


def test_segments_the_runs_own_connections_sent_again_name_the_knee_before_the_machines_handshakes():
    knee = _knee_of_one_step(200, server_cpu=20.0, server_busy=22.0, server_busiest=20.0, p99_ms=450.0, retransmits=12,
                             syn_retransmits=3)
    assert knee.cause == StopCause.RETRANSMITS
    assert "this run's connections sent 12 segments again" in knee.message


def test_accept_queue_overflows_are_named_before_a_client_that_waited_for_a_cpu():
    """CI, churning past a server that accepts 25 a second: the client waited 30% of a core and ran 0%."""
    knee = _knee_of_one_step(30, server_cpu=3.0, server_busy=5.0, client_cpu=0.0, client_busy=30.0, p99_ms=1012.0,
                             listen_overflows=18)
    assert (knee.cause, knee.side) == (StopCause.LISTEN_OVERFLOW, Side.SERVER), knee
    assert "netprobe's client also waited for a CPU 30% of a core" in knee.message


def test_a_client_behind_its_own_schedule_is_the_knee_named_client_cpu_before_the_machine():
    """The client noticed 5% of its requests late by more than half the bound: its own lag, not the server's."""
    knee = _knee_of_one_step(50, server_cpu=36.0, server_busy=63.0, client_cpu=70.0, client_busy=85.0, p99_ms=5107.0,
                             sent=1000, sent_late=50)
    assert (knee.cause, knee.side) == (StopCause.CLIENT_CPU, Side.CLIENT), knee
    assert "noticed 50 of its 1,000 requests more than 50 ms after they fell due" in knee.message


def test_a_few_late_sends_are_a_hiccup_not_the_client_behind():
    knee = _knee_of_one_step(50, server_cpu=60.0, server_busy=62.0, p99_ms=173.0, sent=1000, sent_late=5)
    assert knee.cause == StopCause.SERVER_WAITS, knee


def test_a_client_behind_its_schedule_while_it_waited_for_a_cpu_yields_to_accept_queue_overflows():
    """CI, churning past a server that accepts 25 a second: 1% of a core run, 14% waited, requests late."""
    knee = _knee_of_one_step(40, server_cpu=3.0, server_busy=4.0, client_cpu=1.0, client_busy=15.0, p99_ms=1012.0,
                             sent=120, sent_late=6, listen_overflows=18)
    assert (knee.cause, knee.side) == (StopCause.LISTEN_OVERFLOW, Side.SERVER), knee
    assert "netprobe's client also waited for a CPU 14% of a core" in knee.message


def test_a_client_behind_its_schedule_that_waited_longer_than_it_ran_is_the_machines_contention():
    knee = _knee_of_one_step(40, server_cpu=3.0, server_busy=4.0, client_cpu=1.0, client_busy=15.0, p99_ms=1012.0,
                             sent=120, sent_late=6)
    assert (knee.cause, knee.side) == (StopCause.CPU_CONTENTION, Side.CLIENT), knee
    assert "noticed 6 of its 120 requests more than 50 ms after they fell due, and it waited" in knee.message


def test_a_client_behind_its_schedule_is_named_before_a_server_that_waited_longer_for_a_cpu():
    """CI, 200,000 PINGs a second asked of one Python client: the server also waited, but only the client was late."""
    knee = _knee_of_one_step(100, server_cpu=34.0, server_busy=71.0, client_cpu=40.0, client_busy=85.0, p99_ms=3407.9,
                             sent=40000, sent_late=30000)
    assert (knee.cause, knee.side) == (StopCause.CPU_CONTENTION, Side.CLIENT), knee


def test_the_share_of_a_step_some_task_waited_for_a_cpu():
    assert stall_percent(10.0, 11.5, 3.0) == 50.0
    assert stall_percent(10.0, 20.0, 3.0) == 100.0  # readings a moment off the step's own clock: at most all of it
    assert stall_percent(None, 11.5, 3.0) is None and stall_percent(10.0, 11.0, 0.0) is None


@pytest.mark.parametrize("traffic, side, words", [
    pytest.param(dict(server_cpu=25.0, server_busy=79.0, server_busiest=79.0, client_cpu=30.0, client_busy=35.0,
                      listen_overflows=4, p99_ms=173.0), Side.SERVER, "waited for a CPU 54% of a core and ran 25%",
                 id="a loaded machine: the server ran 25% of a core and waited 54% more"),
    pytest.param(dict(server_cpu=20.0, server_busy=30.0, client_cpu=30.0, client_busy=85.0, p99_ms=173.0), Side.CLIENT,
                 "netprobe's client waited for a CPU 55%", id="the client waited longest"),
    pytest.param(dict(server_cpu=0.0, server_busy=11.0, client_cpu=1.0, client_busy=1.0, seconds=3.0), Side.SERVER,
                 "waited for a CPU 11% of a core and ran 0%",
                 id="CI: a server that sleeps between accepts ran 0% and waited 11%, over half the bound"),
    pytest.param(dict(server_cpu=0.0, server_busy=0.3, client_cpu=2.0, client_busy=2.1, seconds=3.0,
                      cpu_pressure=80.0), Side.SERVER, "some task on this machine waited for a CPU 80% of the step",
                 id="CI: a server with CPU to spare while some task waited for a CPU 80% of the step"),
    pytest.param(dict(cpu_pressure=80.0), Side.CLIENT, None,
                 id="a server elsewhere, on a machine under CPU pressure: the client's side"),
])
def test_a_machine_busy_with_other_work_is_named_cpu_contention_on_the_side_it_delayed(traffic, side, words):
    knee = _knee_of_one_step(50, **{"p99_ms": 612.0, **traffic})
    assert (knee.cause, knee.side) == (StopCause.CPU_CONTENTION, side), knee
    assert words is None or words in knee.message


@pytest.mark.parametrize("traffic", [
    pytest.param(dict(server_cpu=60.0, server_busy=80.0, server_busiest=80.0, p99_ms=173.0),
                 id="a short wait beside a longer run"),
    pytest.param(dict(server_cpu=0.0, server_busy=1.0, seconds=3.0),
                 id="30 ms in the run queue over 3 s, short of half a 100 ms bound"),
    pytest.param(dict(server_cpu=0.0, server_busy=0.3, seconds=3.0, cpu_pressure=3.0),
                 id="a quiet machine: some task waited for a CPU 3% of the step"),
])
def test_a_late_server_with_cpu_to_spare_that_hardly_waited_for_one_waits_on_something(traffic):
    assert _knee_of_one_step(50, **{"p99_ms": 612.0, **traffic}).cause == StopCause.SERVER_WAITS
