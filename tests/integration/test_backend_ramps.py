"""Every backend under ``ramp``: in both placements, at a low fd limit, at select()'s cap, and all together."""

from __future__ import annotations

import json

import pytest

from netprobe import platform
from netprobe.launch import run_spec
from netprobe.ramp.options import RampOptions, build_ramp_spec
from netprobe.servers.registry import BACKENDS, backend_names
from netprobe.vocabulary import Placement
from tests.conftest import needs_rlimit, run_netprobe

SELECT_CAP = platform.probe_select_cap()


def available_backends() -> list[str]:
    return [spec.name for spec in BACKENDS.available()]

fd_number_select = pytest.mark.skipif(SELECT_CAP.kind != "fd_number", reason="select() caps fd numbers on POSIX only")
# The select backend on Windows holds 511 sockets by design; elsewhere every backend reaches 1,000.
TARGET = 1000


def _available(name: str):
    return pytest.param(name, marks=pytest.mark.skipif(name not in available_backends(),
                                                       reason=f"backend {name} is not available here"))


pytestmark = pytest.mark.usefixtures("no_time_wait_flood")


def ramp(**options):
    return run_spec(build_ramp_spec(RampOptions(**options)))


@pytest.mark.parametrize("placement", Placement.values())
@pytest.mark.parametrize("backend", [_available(n) for n in backend_names()])
def test_every_backend_reaches_1000_in_both_placements(backend, placement):
    result = ramp(to=TARGET, backend=backend, placement=placement)
    if result.predicted.selector == "SelectSelector" and SELECT_CAP.kind == "count" and SELECT_CAP.limit is not None:
        # Windows select() takes 512 sockets a list: the ceiling there of every server waiting with
        # it (the select backend, and selectors, whose DefaultSelector it is), by design.
        assert (result.stop.reason, result.stop.side) == ("select_limit", "server"), result.stop
        assert result.reached == result.predicted.max_connections == SELECT_CAP.limit - 1
        return
    assert result.ok and result.stop is None, result.stop
    assert result.reached == TARGET
    assert result.config.backend.name == backend and result.predicted.backend == backend


@needs_rlimit
@pytest.mark.parametrize("backend", [_available(n) for n in backend_names()])
def test_every_backend_stops_on_its_fd_limit_as_predicted(backend):
    result = ramp(to=TARGET, backend=backend, fd_limit=256)
    assert (result.stop.reason, result.stop.side) == ("fd_limit", "server"), result.stop
    assert result.predicted.binding_limit == "fd_limit"
    assert abs(result.predicted.max_connections - result.reached) <= 8, (result.predicted, result.reached)


@fd_number_select
@pytest.mark.parametrize("backend, selector, loop", [("select", None, None), ("selectors", "select", None),
                                                     ("asyncio", "select", "selector")])
def test_select_based_servers_stop_at_fd_setsize(backend, selector, loop):
    result = ramp(to=1500, step=250, backend=backend, selector=selector, loop=loop)
    assert (result.stop.reason, result.stop.side) == ("select_limit", "server"), result.stop
    assert result.predicted.binding_limit == "select_limit"
    assert abs(result.predicted.max_connections - result.reached) <= 8


def _gevent_loops() -> list:
    if "gevent" not in available_backends():
        return [pytest.param(None, marks=pytest.mark.skip(reason="gevent is not installed"))]
    return [n for n in BACKENDS.get("gevent").loop_names().available_loops() if n != "default"]


@pytest.mark.parametrize("loop", _gevent_loops())
def test_gevent_on_each_loop_passes_select_or_stops_at_its_loop_cap(loop):
    """libuv and libev on epoll/kqueue pass 1,024; gevent's libev on Windows waits with a select() of 1024 sockets."""
    result = ramp(to=1500, step=250, backend="gevent", loop=loop)
    assert result.predicted.selector.startswith(f"gevent {loop}"), result.predicted.selector
    if result.predicted.selector == "gevent libev (select)" and platform.SELECT_COUNTS_SOCKETS:
        assert (result.stop.reason, result.stop.side) == ("loop_limit", "server"), result.stop
        assert result.predicted.binding_limit == "loop_limit"
        assert abs(result.predicted.max_connections - result.reached) <= 8, (result.predicted, result.reached)
    else:
        assert result.ok and result.reached == 1500, result.stop


def test_backend_all_gives_one_row_per_available_backend(ceilings_document):
    """The CLI's ``ramp --backend all --format json`` (run once per worker: other tests read it too)."""
    data = json.loads(ceilings_document)
    assert data["schema"] == "netprobe.ceilings/1" and data["ok"] is True
    assert [row["backend"] for row in data["rows"]] == available_backends()
    for row in data["rows"]:
        assert row["reached"] == 50 and row["ok"], row
        assert row["connect_rate"] and row["server_rss_per_connection"] is not None and row["predicted"], row
    assert all(r["schema"] == "netprobe.ramp/1" for r in data["ramps"])
    # Its text form, the ceilings table, is tests/cli/test_width.py's ramp of every backend.


@pytest.mark.parametrize("argv, message", [
    (["--backend", "threads", "--selector", "poll"], "--selector applies to --backend selectors or asyncio"),
    (["--backend", "selectors", "--loop", "selector"], "--loop applies to --backend asyncio"),
    (["--backend", "asyncio", "--loop", "nosuchloop"], "--loop must be one of"),
    (["--backend", "all", "--selector", "poll"], "--backend all runs each with its default"),
    (["--backend", "all", "--target", "127.0.0.1:9"], "cannot apply to --target"),
    (["--backend", "gevent", "--target", "127.0.0.1:9"], "cannot apply to --target"),
])
def test_backend_options_that_do_not_apply_are_usage_errors(argv, message):
    done = run_netprobe("ramp", "--to", "10", *argv)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
