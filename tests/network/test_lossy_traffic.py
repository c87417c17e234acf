"""Traffic across a lossy link counts the segments the run's own connections sent again.

The server runs on one host and the ramp on another, joined by a bridge the test makes
(tests/network/hosts.py); the client's link drops one incoming packet in ten, so replies and
acknowledgements go missing and the client sends its requests again. The count is read from the
kernel's TCP information on each of the run's connections, so a clean link counts none.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import LATE_MS, ROOT
from tests.network.hosts import Host, cannot_make_hosts, network

pytestmark = pytest.mark.skipif(cannot_make_hosts() is not None, reason=cannot_make_hosts() or "")

PORT = 9000


def _traffic(client: Host, server: Host) -> dict:
    """One step of 40 connections from ``client``, each sent 10 requests a second for 2 s; its traffic."""
    proc = subprocess.run(client.argv([sys.executable, "-m", "netprobe", "ramp", "--quiet", "--target",
                                       f"{server.address}:{PORT}", "--allow-remote", "--verify", "echo", "--rate",
                                       "10", "--to", "40", "--step", "40", "--hold", "2", "--timeout", "5",
                                       "--max-latency", str(LATE_MS), "--format", "json"]),
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)["steps"][-1]["traffic"]


@pytest.mark.slow
def test_a_lossy_link_shows_as_segments_sent_again_on_the_runs_own_connections():
    with network(2) as hosts:
        server_host, client_host = hosts.hosts
        server = server_host.popen([sys.executable, "-m", "netprobe", "serve", "--host", server_host.address,
                                    "--port", str(PORT), "--allow-remote"], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, cwd=ROOT)
        try:
            assert server.stdout is not None and server.stdout.readline().strip()  # it listens
            clean = _traffic(client_host, server_host)
            client_host.lose(10)
            lossy = _traffic(client_host, server_host)
        finally:
            server.kill()
            server.wait()
            if server.stdout is not None:
                server.stdout.close()
    assert clean["retransmits"] == 0, clean
    assert lossy["retransmits"] > 0, lossy
    assert lossy["answered"] > 0 and lossy["p99_ms"] > clean["p99_ms"], (clean, lossy)
