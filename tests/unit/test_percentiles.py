"""One percentile definition: ramp and bench echo report the same p50 and p99 for the same latencies."""

from __future__ import annotations

import random
from array import array

from netprobe.bench.echo_client import latency_summary
from netprobe.stats import p50_p99 as step_latency
from netprobe.stats import percentile


def test_ramp_and_bench_echo_agree_on_the_same_latencies():
    latencies = array("d", (random.Random(3).lognormvariate(-3, 0.8) for _ in range(997)))
    p50, p99 = step_latency(latencies)
    summary = latency_summary(latencies)
    assert (p50, p99) == (summary["p50"], summary["p99"])


def test_nearest_rank_returns_a_measured_value():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 51.0
    assert percentile(values, 0.99) == 100.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) is None
