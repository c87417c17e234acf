"""Every way of holding a ramp's connections gives one verdict: one `ok` rule, one stop naming.

The same scenarios run through the three holders against an external server, so each can take
part: connections held in this process, in child processes of this machine (a spread ramp) and
by a worker of a distributed ramp. Each must name the same stop on the same side, agree on `ok`,
and reach the same count: exactly at a refused port, within 2 at a server's fd limit.
"""

from __future__ import annotations

import importlib.util
import json
import socket

import pytest

from netprobe import platform
from netprobe.servers.registry import BACKENDS
from netprobe.servers.spec import ServerSpec
from netprobe.vocabulary import Verify
from tests.conftest import LATE_MS, UNCAPPED_BACKEND, run_netprobe, stopped_by_a_busy_machine
from tests.realservers.test_real_servers import CAP, redis  # noqa: F401 (a fixture: a real redis at maxclients CAP)

HOLDERS = ["in-process", "spread", "workers"]
needs_locust = pytest.mark.skipif(importlib.util.find_spec("locust") is None,
                                  reason="the dist extra is not installed: pip install '.[dist]'")


@pytest.fixture(autouse=True)
def run_secret(monkeypatch):
    """A distributed run's secret of this module's own, given to its local workers."""
    monkeypatch.setenv("NETPROBE_SECRET", "the holder suite's shared secret, 0123456789")




def _ramp(holder: str, target: str, to: int | None, step: int | None, verify: Verify,
          probe: str | None = None, rate: float | None = None, churn: int | None = None) -> dict:
    """Ramp ``target`` through ``holder``; return the ramp's JSON document with the exit status as ``exit``.

    With ``rate``, each step carries that many requests a second per connection for a second; with
    ``churn`` (instead of ``to``), each step opens and closes its goal in new connections a second.
    """
    loaded = rate is not None or churn is not None
    args = ["ramp", "--target", target, "--timeout", "2", "--format", "json"]
    args += ["--probe", probe] if probe else ["--verify", str(verify)]
    args += [] if to is None else ["--to", str(to)]
    args += [] if step is None else ["--step", str(step)]
    args += [] if rate is None else ["--rate", str(rate)]
    args += [] if churn is None else ["--churn", str(churn)]
    args += ["--hold", "1", "--max-latency", str(LATE_MS)] if loaded else []
    if holder == "spread":
        args += ["--client-processes", "2"]
    if holder == "workers":
        args += ["--workers", "1", "--spawn-local", "--worker-wait", "20"]
    proc = run_netprobe(*args)
    assert proc.returncode in (0, 1), proc.stderr
    document = json.loads(proc.stdout)
    document["exit"] = proc.returncode
    return document


def _holder(name: str):
    return pytest.param(name, marks=needs_locust) if name == "workers" else name


@pytest.mark.parametrize("holder", [_holder(h) for h in HOLDERS])
@pytest.mark.parametrize("to", [None, 100])
def test_a_refused_port_is_never_a_success(holder, to):
    with socket.socket() as reserved:  # bound, never listening: no other test's server can take the port meanwhile
        reserved.bind(("127.0.0.1", 0))
        document = _ramp(holder, f"127.0.0.1:{reserved.getsockname()[1]}", to, None, Verify.CONNECT)
    assert document["exit"] == 1 and document["ok"] is False
    assert document["reached"] == 0
    assert (document["stop"]["reason"], document["stop"]["side"]) == ("refused", "server")


@pytest.mark.skipif(not platform.HAS_RLIMIT, reason="a server's fd limit needs RLIMIT_NOFILE (POSIX)")
@pytest.mark.parametrize("verify", [Verify.CONNECT, Verify.ECHO])
@pytest.mark.slow
def test_every_holder_names_a_servers_fd_limit_alike(child_server, verify):
    server = child_server(ServerSpec(backend=BACKENDS.get(UNCAPPED_BACKEND), fd_limit=300))
    host, port = server.addresses[0]
    seen = {}
    for holder in [h for h in HOLDERS if h != "workers" or importlib.util.find_spec("locust")]:
        document = _ramp(holder, f"{host}:{port}", 1000, 100, verify)
        seen[holder] = (document["exit"], document["ok"], document["stop"]["reason"], document["stop"]["side"],
                        document["reached"])
    first = next(iter(seen.values()))
    # Seen from outside, a server at its fd limit stops accepting: its listen queue fills (Linux reads it);
    # where its process can be read, its fds at its soft limit name the wall fd_limit.
    assert first[:2] == (1, False) and first[3] == "server", seen
    assert all(v[:4] == first[:4] for v in seen.values()), seen
    reached = [v[4] for v in seen.values()]
    assert max(reached) - min(reached) <= 2, seen
    assert 250 <= min(reached) <= 300, seen


@pytest.mark.skipif(platform.NAME != "linux", reason="redis from the OS packages: Linux")
@pytest.mark.parametrize("probe", [None, "redis"])
@pytest.mark.slow
def test_every_holder_names_a_real_servers_cap_alike(redis, probe):  # noqa: F811 (the fixture)
    seen = {}
    for holder in [h for h in HOLDERS if h != "workers" or importlib.util.find_spec("locust")]:
        document = _ramp(holder, redis.target, 2 * CAP, CAP // 3, Verify.CONNECT, probe)
        stop = document["stop"]
        seen[holder] = (document["exit"], document["ok"], stop["reason"], stop["side"], stop["setting"],
                        document["reached"])
    first = next(iter(seen.values()))
    assert first[:5] == (1, False, "closed_by_server", "server", "redis maxclients"), seen
    assert all(v[:5] == first[:5] for v in seen.values()), seen
    assert all(abs(v[5] - CAP) <= 0.02 * CAP for v in seen.values()), seen


@pytest.mark.parametrize("holder", [_holder(h) for h in HOLDERS])
def test_every_holder_carries_traffic_and_counts_every_reply(holder, child_server):
    server = child_server(ServerSpec(backend=BACKENDS.get(UNCAPPED_BACKEND), want_fds=1024))
    target = f"127.0.0.1:{server.addresses[0][1]}"
    document = _ramp(holder, target, 100, 50, Verify.ECHO, rate=4)
    assert (document["exit"] == 0 and document["reached"] == 100) or stopped_by_a_busy_machine(document), \
        document["verdict"]
    for step in document["steps"]:
        traffic = step["traffic"]
        assert traffic["connections"] == step["connections"]
        assert traffic["sent"] >= 4 * step["connections"] * 0.9 and traffic["answered"] == traffic["sent"]
        assert traffic["errors"] == traffic["timeouts"] == 0 and traffic["p99_ms"] > 0


@pytest.mark.parametrize("holder", [_holder(h) for h in HOLDERS])
@pytest.mark.slow
def test_every_holder_churns_and_counts_every_connection(holder, child_server):
    server = child_server(ServerSpec(backend=BACKENDS.get(UNCAPPED_BACKEND), want_fds=1024))
    target = f"127.0.0.1:{server.addresses[0][1]}"
    document = _ramp(holder, target, None, 20, Verify.ECHO, churn=40)
    assert (document["exit"] == 0 and document["reached"] == 40) or stopped_by_a_busy_machine(document), \
        document["verdict"]
    opened = 0
    for step, goal in zip(document["steps"], (20, 40)):
        churn = step["traffic"]
        assert step["connections"] == 0 and churn["churn"] is True and churn["asked_rate"] == goal
        assert goal * 0.9 <= churn["sent"] <= goal + 2 and churn["answered"] == churn["sent"], churn
        assert churn["errors"] == churn["timeouts"] == 0 and churn["connect_errors"] == {}
        opened += churn["sent"]
        if holder != "workers" and platform.NAME == "linux":  # closed here first: each waits in TIME_WAIT
            assert churn["time_wait"] >= opened * 0.9, churn
