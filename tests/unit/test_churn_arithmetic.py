"""Churn's plan and arithmetic: rates per step and per holder, the ports' ceiling, and how refused opens are named."""

from __future__ import annotations

import dataclasses

import pytest

from netprobe import platform
from netprobe.causes import StopCause
from netprobe.clients.traffic import Tally, TrafficCount, TrafficPlan, TrafficStats
from netprobe.platform import SystemFacts
from netprobe.ramp.churn import churn_ceiling, refused_opens, reuses_time_wait
from netprobe.stops import StopReason
from netprobe.vocabulary import Side

CHURN = TrafficPlan(rate=500.0, total_rate=None, seconds=2.0, timeout=1.0, churn=True)
LOOPBACK = [("127.0.0.1", 7000)]
NAMESPACE = [("10.200.0.2", 7000)]


def _stats(asked: float, **fields) -> TrafficStats:
    stats = TrafficStats(0, asked, asked, int(asked * 2), int(asked * 2), 0, 0, 1.0, 2.0, 3.0, 4.0, 2.0, churn=True)
    return dataclasses.replace(stats, **fields)


def test_a_churn_step_asks_its_goal_in_new_connections_a_second_whatever_is_held():
    step = CHURN.for_step(200, held=0)
    assert step.per_connection == 200.0 and step.asked(0) == 200.0


def test_traffic_on_held_connections_is_not_changed_by_the_step_goal():
    plan = TrafficPlan(rate=None, total_rate=1000.0, seconds=2.0, timeout=1.0)
    assert plan.for_step(999, held=100).per_connection == 10.0
    assert plan.for_step(999, held=100).asked(100) == 1000.0


def test_churn_is_split_between_holders_and_traffic_per_connection_is_not():
    assert CHURN.for_step(300, 0).share(3).per_connection == 100.0
    per_connection = TrafficPlan(rate=5.0, total_rate=None, seconds=2.0, timeout=1.0)
    assert per_connection.share(3) == per_connection


@pytest.mark.parametrize(("reuse", "where", "reused"), [
    (0, LOOPBACK, False), (1, NAMESPACE, True), (2, LOOPBACK, True), (2, NAMESPACE, False), (None, LOOPBACK, False),
])
def test_time_wait_is_reused_where_tcp_tw_reuse_says(reuse, where, reused):
    assert reuses_time_wait(SystemFacts(tcp_tw_reuse=reuse), where) is reused


@pytest.mark.skipif(platform.TIME_WAIT_SECONDS is None, reason="this OS's TIME_WAIT length is not known")
def test_the_ports_sustain_their_count_over_time_wait_per_source_and_destination():
    facts = SystemFacts(port_low=40000, port_high=40099, tcp_tw_reuse=0)
    ceiling = churn_ceiling(facts, sources=2, destinations=NAMESPACE * 3)
    assert ceiling is not None
    assert ceiling.ports == 600 and ceiling.rate == pytest.approx(600 / platform.TIME_WAIT_SECONDS)
    assert "600 ephemeral ports (100 x 2 source addresses x 3 destinations)" in ceiling.detail


def test_without_the_port_range_the_ceiling_is_unknown():
    assert churn_ceiling(SystemFacts(), sources=1, destinations=LOOPBACK) is None


@pytest.mark.skipif(platform.NAME != "linux", reason="Linux's errno names")
def test_refused_opens_with_the_ports_in_time_wait_are_port_exhaustion_caused_by_time_wait():
    ceiling = churn_ceiling(SystemFacts(port_low=40000, port_high=40099, tcp_tw_reuse=0), 1, NAMESPACE)
    refused = refused_opens(_stats(30.0, errors=81, connect_errors={"EADDRNOTAVAIL": 81}, time_wait=99), ceiling)
    assert refused is not None
    assert (refused.reason, refused.side, refused.cause) == (StopReason.PORT_EXHAUSTION, Side.CLIENT,
                                                             StopCause.TIME_WAIT)
    assert "99 of this side's connections to the target were in TIME_WAIT" in refused.message


@pytest.mark.skipif(platform.NAME != "linux", reason="Linux's errno names")
def test_ports_taken_by_something_else_than_time_wait_are_not_blamed_on_it():
    ceiling = churn_ceiling(SystemFacts(port_low=40000, port_high=40099, tcp_tw_reuse=0), 1, NAMESPACE)
    refused = refused_opens(_stats(30.0, errors=5, connect_errors={"EADDRNOTAVAIL": 5}, time_wait=3), ceiling)
    assert refused is not None and refused.reason == StopReason.PORT_EXHAUSTION and refused.cause is None
    assert "something else holds them" in refused.message


@pytest.mark.skipif(platform.NAME != "linux", reason="Linux's errno names")
def test_a_refusal_by_the_server_is_named_on_its_side():
    refused = refused_opens(_stats(30.0, errors=5, connect_errors={"ECONNREFUSED": 5}), None)
    assert refused is not None and (refused.reason, refused.side) == (StopReason.REFUSED, Side.SERVER)


def test_a_step_without_refused_opens_is_not_stopped_by_them():
    assert refused_opens(_stats(30.0), None) is None


def test_a_holder_cannot_report_more_refused_opens_than_errors_or_unbounded_names():
    tally = Tally()
    tally.errors = 2
    tally.connect_errors.update({"EADDRNOTAVAIL": 2})
    assert tally.count().problem(held=0) is None
    assert TrafficCount(0, 5, 0, 1, 0, 1.0, "", connect_errors={"EADDRNOTAVAIL": 2}).problem(0) is not None
    many = {f"E{i}": 0 for i in range(100)}
    assert TrafficCount(0, 5, 0, 1, 0, 1.0, "", connect_errors=many).problem(0) is not None


def test_a_holder_cannot_report_more_closed_first_by_the_server_than_it_had_answered():
    tally = Tally()
    tally.sent = tally.answered = tally.server_closed_first = 3
    assert tally.count().problem(held=0) is None
    assert TrafficCount(0, 5, 3, 0, 0, 1.0, "", server_closed_first=4).problem(0) is not None
    assert TrafficCount(0, 5, 3, 0, 0, 1.0, "", server_closed_first=-1).problem(0) is not None


@pytest.mark.skipif(platform.TIME_WAIT_SECONDS is None, reason="this OS's TIME_WAIT length is not known")
def test_a_time_wait_table_smaller_than_the_ports_leaves_churn_no_port_ceiling():
    capped = churn_ceiling(SystemFacts(port_low=40000, port_high=40099, tcp_tw_reuse=0, tcp_max_tw_buckets=40), 1,
                           NAMESPACE)
    assert capped is not None and capped.rate is None and capped.ports == 100
    assert "net.ipv4.tcp_max_tw_buckets=40 keeps fewer in TIME_WAIT" in capped.detail
    roomy = churn_ceiling(SystemFacts(port_low=40000, port_high=40099, tcp_tw_reuse=0, tcp_max_tw_buckets=100), 1,
                          NAMESPACE)
    assert roomy is not None and roomy.rate == pytest.approx(100 / platform.TIME_WAIT_SECONDS)


@pytest.mark.skipif(platform.NAME != "linux", reason="Linux's errno names")
def test_refused_opens_under_a_capped_time_wait_table_are_not_blamed_on_time_wait_by_arithmetic():
    ceiling = churn_ceiling(SystemFacts(port_low=40000, port_high=40099, tcp_tw_reuse=0, tcp_max_tw_buckets=40), 1,
                            NAMESPACE)
    refused = refused_opens(_stats(30.0, errors=5, connect_errors={"EADDRNOTAVAIL": 5}), ceiling)
    assert refused is not None and refused.reason == StopReason.PORT_EXHAUSTION and refused.cause is None
