"""The socket helpers every backend shares, on real loopback sockets."""

from __future__ import annotations

import socket

import pytest

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
