"""The socket helpers every backend shares, on real loopback sockets."""

from __future__ import annotations

import select
import socket
import time

import pytest

from netprobe import platform
from netprobe.platform._common import connect_outcome_by_peek
from netprobe.sockets import abort, accept_fast


def _listener(family: int, host: str) -> socket.socket:
    try:
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.bind((host, 0))
    except OSError as exc:
        pytest.skip(f"no {host} here: {exc}")
    listener.listen(8)
    return listener


@pytest.mark.parametrize(("family", "host"), [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")])
def test_accept_fast_gives_the_socket_accept_gives(family, host):
    listener = _listener(family, host)
    peers = [socket.create_connection(listener.getsockname()[:2], timeout=5) for _ in range(2)]
    try:
        plain, plain_address = listener.accept()
        fast, fast_address = accept_fast(listener, int(listener.family))
        for accepted, address, peer in ((plain, plain_address, peers[0]), (fast, fast_address, peers[1])):
            assert (accepted.family, accepted.type, accepted.proto) == (family, socket.SOCK_STREAM, listener.proto)
            assert accepted.gettimeout() is None
            assert address == peer.getsockname()
            assert accepted.getpeername() == peer.getsockname()
        peers[1].sendall(b"ping")
        assert fast.recv(4) == b"ping"
        fast.sendall(b"pong")
        assert peers[1].recv(4) == b"pong"
        for accepted in (plain, fast):
            abort(accepted)
    finally:
        for peer in peers:
            abort(peer)
        listener.close()


def test_accept_fast_raises_what_accept_raises_on_an_empty_queue():
    listener = _listener(socket.AF_INET, "127.0.0.1")
    listener.setblocking(False)
    try:
        with pytest.raises(BlockingIOError):
            accept_fast(listener, int(listener.family))
    finally:
        listener.close()


@pytest.mark.parametrize("outcome", [platform.connect_outcome, connect_outcome_by_peek],
                         ids=["this OS's", "portable"])
@pytest.mark.parametrize(("family", "host"), [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")])
def test_a_connect_outcome_is_connected_then_closed_by_the_peer_and_never_a_refusal(outcome, family, host):
    # A peer that says something before it closes stays True: the holder's sweep reads what it said.
    listener = _listener(family, host)
    client = socket.socket(family, socket.SOCK_STREAM)
    refused = socket.socket(family, socket.SOCK_STREAM)
    with socket.socket(family, socket.SOCK_STREAM) as closed_port:
        closed_port.bind((host, 0))  # bound, never listening: a connect to it is refused
        try:
            client.setblocking(False)
            client.connect_ex(listener.getsockname()[:2])
            select.select([], [client], [], 5)
            assert outcome(client) is True
            accepted, _ = listener.accept()
            accepted.close()  # the peer closes: the client's end gets its FIN
            deadline = time.monotonic() + 5
            while outcome(client) is not False and time.monotonic() < deadline:
                time.sleep(0.01)
            assert outcome(client) is False
            with socket.create_connection(listener.getsockname()[:2], timeout=5) as spoken_to:
                accepted, _ = listener.accept()
                accepted.sendall(b"-ERR max number of clients reached\r\n")
                accepted.close()
                assert spoken_to.recv(64, socket.MSG_PEEK)  # what it said is here, and its close with it
                spoken_to.setblocking(False)
                assert outcome(spoken_to) is True
            refused.setblocking(False)
            refused.connect_ex(closed_port.getsockname()[:2])
            select.select([], [refused], [refused], 5)  # Windows reports a failed connect as exceptional
            assert outcome(refused) is None  # the caller reads SO_ERROR, which names the refusal
            assert refused.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0
        finally:
            for sock in (client, refused, listener):
                abort(sock)
