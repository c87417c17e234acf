"""`ramp --expect` is a CI gate of its own: a met expectation exits 0, a missed one 1 with one line saying why."""

from __future__ import annotations

import pytest

from netprobe import platform
from tests.conftest import run_netprobe


def test_a_reached_target_meets_reached():
    done = run_netprobe("ramp", "--to", "50", "--quiet", "--expect", "reached")
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(not platform.HAS_RLIMIT, reason="a server's fd limit needs RLIMIT_NOFILE (POSIX)")
def test_the_named_wall_in_its_range_is_a_pass_though_the_target_was_missed():
    done = run_netprobe("ramp", "--fd-limit", "100", "--to", "300", "--quiet", "--expect", "fd_limit@server:50-100")
    assert done.returncode == 0, done.stderr


def test_a_missed_expectation_exits_1_saying_what_happened_instead():
    done = run_netprobe("ramp", "--to", "50", "--quiet", "--expect", "select_limit@server")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "netprobe: expected a select_limit stop on the server side; reached 50"]


@pytest.mark.parametrize("text, problem", [("nonsense!", "is not 'reached'"), ("fd_limit@nowhere", "side")])
def test_a_bad_expectation_is_bad_input_before_any_connection(text, problem):
    done = run_netprobe("ramp", "--to", "50", "--expect", text)
    assert done.returncode == 2 and problem in done.stderr and done.stdout == ""
