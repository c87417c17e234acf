"""One contract, run against every registered client model: each model is a generated three-line subclass.

Registering a client model is enough to put it under contract, as with backends.
"""

from __future__ import annotations

import socket
import threading
import time
from array import array

import pytest

from netprobe.clients.base import Client
from netprobe.clients.registry import CLIENTS, ClientSpec
from netprobe.stops import StopReason
from netprobe.vocabulary import Operation, Verify

COUNT = 50
TIMEOUT = 5.0


def _never() -> bool:
    return False


class ClientContract:
    """Mixin: subclasses set MODEL, a client registration."""

    MODEL: ClientSpec

    @pytest.fixture
    def echo_server(self, child_server):
        return child_server()

    def make(self, addresses: list[tuple[str, int]], verify: Verify = Verify.ECHO) -> Client:
        return self.MODEL.create(addresses, None, b"netprobe ping\n", verify, 16)

    @pytest.mark.parametrize("verify", [Verify.ECHO, Verify.CONNECT])
    def test_opens_and_verifies_every_connection_it_is_asked_for(self, echo_server, verify):
        client = self.make(echo_server.addresses, verify)
        try:
            out = client.open(COUNT, TIMEOUT, _never)
            assert out.clean and out.verified == COUNT and client.held == COUNT
            if verify == Verify.ECHO:  # a handshake-only check has no round trip to time
                assert len(out.latencies_ms) == COUNT and min(out.latencies_ms) >= 0
            deadline = time.monotonic() + 5
            while echo_server.status().held < COUNT and time.monotonic() < deadline:
                time.sleep(0.02)
            assert echo_server.status().held == COUNT  # the server agrees: it accepted every one
        finally:
            client.close()

    def test_rechecks_older_connections(self, echo_server):
        client = self.make(echo_server.addresses)
        try:
            client.open(COUNT, TIMEOUT, _never)
            again = client.reverify(client.sample(10, exclude_newest=0), TIMEOUT)
            assert again.clean and again.verified == 10
        finally:
            client.close()

    def test_a_closed_port_is_a_refused_connect(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            address = probe.getsockname()  # bound, never listening: connects are refused
            client = self.make([address], Verify.CONNECT)
            try:
                out = client.open(3, TIMEOUT, _never)
            finally:
                client.close()
        assert not out.clean and client.held == 0
        assert out.failure is not None and out.failure.operation == Operation.CONNECT
        from netprobe import platform

        assert platform.classify_errno(out.failure.errno, out.failure.operation) == StopReason.REFUSED

    def test_a_server_that_goes_away_fails_the_recheck(self, child_server):
        server = child_server()
        client = self.make(server.addresses)
        try:
            assert client.open(10, TIMEOUT, _never).clean
            server.close()
            again = client.reverify(client.sample(10, exclude_newest=0), TIMEOUT)
            assert not again.clean
        finally:
            client.close()

    def test_pingpong_counts_round_trips(self, echo_server):
        client = self.make(echo_server.addresses, Verify.CONNECT)
        try:
            assert client.open(5, TIMEOUT, _never).clean
            latencies = array("d")
            trips, failed = client.pingpong(b"x" * 64, time.perf_counter() + 0.3, latencies)
            assert trips > 0 and failed == 0 and len(latencies) == trips
        finally:
            client.close()


def _contract_class(spec: ClientSpec) -> type:
    """The three-line subclass of the contract for one registered client model, skipped where it cannot run."""
    cls = type(f"Test_{spec.name}", (ClientContract,), {"MODEL": spec})
    reason = f"client model {spec.name} needs {', '.join(spec.requires)}, not installed here"
    return pytest.mark.skipif(not spec.available(), reason=reason)(cls)


for _spec in CLIENTS.specs():
    globals()[f"Test_{_spec.name}"] = _contract_class(_spec)


def test_every_registered_client_model_is_under_contract():
    classes = {cls.MODEL.name for name, cls in globals().items() if name.startswith("Test_")}
    assert classes == set(CLIENTS.names())


def test_a_gevent_client_made_in_a_greenlet_leaves_the_hub_it_ran_on(child_server):
    """A distributed worker's client runs on the hub locust's runner lives on: closing it leaves that hub."""
    gevent = pytest.importorskip("gevent")
    server = child_server()
    kept: list[bool] = []

    def on_a_hub_of_its_own_thread() -> None:
        hub = gevent.get_hub()

        def hold_and_close() -> None:
            client = CLIENTS.get("gevent").create(server.addresses, None, b"netprobe ping\n", Verify.ECHO, 16)
            client.open(5, TIMEOUT, _never)
            client.close()

        gevent.spawn(hold_and_close).join()
        kept.append(gevent.get_hub() is hub)
        hub.destroy(destroy_loop=True)

    thread = threading.Thread(target=on_a_hub_of_its_own_thread)
    thread.start()
    thread.join(30)
    assert kept == [True]
