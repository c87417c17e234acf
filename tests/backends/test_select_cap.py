"""select()-based servers at their cap: they shed what select() cannot watch, and accept again later."""

from __future__ import annotations

import socket
import time

import pytest

from netprobe import platform
from netprobe.protocols.files import FileSession
from netprobe.servers.process import ChildServer
from netprobe.servers.registry import BACKENDS, ServerOptions
from netprobe.servers.spec import ServerSpec
from netprobe.sockets import abort

SELECT_CAP = platform.probe_select_cap()


@pytest.mark.skipif(SELECT_CAP.kind != "fd_number" or not platform.HAS_RLIMIT,
                    reason="select() caps fd numbers on POSIX only")
@pytest.mark.parametrize("backend, options", [
    ("select", ServerOptions()),
    ("selectors", ServerOptions(selector_class="SelectSelector")),
    ("asyncio", ServerOptions(selector_class="SelectSelector", loop="selector")),
])
def test_accepting_resumes_after_the_cap(backend, options):
    server = ChildServer(ServerSpec(backend=BACKENDS.get(backend), options=options, want_fds=2048))
    socks: list[socket.socket] = []
    try:
        for _ in range(1100):
            try:
                socks.append(socket.create_connection(server.addresses[0], timeout=5))
            except OSError:
                break  # the accept queue of a server that stopped accepting is full
        deadline = time.monotonic() + 10
        while server.status().limit is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.status().limit.reason == "select_limit"
        for s in socks:
            abort(s)
        socks = []
        deadline = time.monotonic() + 10
        while server.status().held and time.monotonic() < deadline:
            time.sleep(0.05)
        late = socket.create_connection(server.addresses[0], timeout=5)
        socks.append(late)
        late.settimeout(5)
        late.sendall(b"still accepting?")
        assert late.recv(64) == b"still accepting?"
    finally:
        for s in socks:
            abort(s)
        server.close()


def test_a_large_get_is_hashed_a_slice_at_a_time(tmp_path):
    """An event loop serves other clients between slices: pull() returns before the file is hashed."""
    import hashlib

    from netprobe.protocols import files, framing

    data = b"z" * (3 * files.HASH_SLICE + 5)
    (tmp_path / "big.bin").write_bytes(data)
    session = FileSession(str(tmp_path))
    session.received(framing.encode(b"G" + b"big.bin"))
    slices = 0
    while session.has_output:
        out = session.pull(64 * 1024)
        if out:
            break
        slices += 1
    assert slices >= 3  # three slices handed back to the loop before the header went out
    header = framing.FrameDecoder().feed(out)[0]
    size, sha = files.SIZE_AND_SHA.unpack(header[1:])
    assert size == len(data) and sha == hashlib.sha256(data).digest()
    session.close()
