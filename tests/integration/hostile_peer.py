"""A hostile local process on a distributed ramp's master port (issue 20 #1), run as a child of a test.

Usage: python hostile_peer.py PORT SECONDS SECRET. For SECONDS from its first contact (a loaded
machine may take a while to start the master; it gives up after a minute without one) it keeps trying
what a stranger on this machine could: raw bytes that are no ZeroMQ at all, plain ZeroMQ with locust's and netprobe's
messages (a hello, a held report of 10**18, another version's hello), and CURVE with the master's
public key (as if it had leaked) but a key pair of its own. It prints ``ready`` once its imports are done
(under Wine on a loaded machine they can take longer than the ramp it is meant to meet), then what it
tried, one per line.
"""

from __future__ import annotations

import socket
import sys
import time

import msgpack
import zmq

from netprobe.distributed.secret import CurveKeys


def _messages(identity: str) -> list[bytes]:
    held = {"step": 0, "held": 10**18, "latencies": [], "failure": None, "fds": None, "rss": None}
    hello = {"id": identity, "netprobe": "0.0.1", "host": "stranger", "pid": 1}
    return [msgpack.dumps(m) for m in (("client_ready", "2.47.0", identity), ("np_hello", hello, identity),
                                       ("np_held", {"body": held, "mac": "0" * 64}, identity),
                                       ("np_held", held, identity), ("client_stopped", None, identity))]


def main() -> None:
    port, seconds, secret = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    leaked = CurveKeys.of(secret).server_public
    context = zmq.Context()
    print("ready", flush=True)
    give_up = time.monotonic() + 60
    deadline = give_up
    round_ = 0
    while time.monotonic() < min(deadline, give_up):
        round_ += 1
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as raw:
                raw.sendall(b"\x93\xa5hello\x01\xff\xc1\x00")  # 10 bytes: msgpack it is not
                print("raw", flush=True)
            if deadline == give_up:  # the first contact starts the clock
                deadline = time.monotonic() + seconds
        except OSError:
            time.sleep(0.2)
            continue
        for curve in (False, True):
            peer = context.socket(zmq.DEALER)
            peer.linger = 0
            peer.identity = f"stranger-{round_}-{curve}".encode()
            if curve:
                public, private = zmq.curve_keypair()
                peer.curve_serverkey, peer.curve_publickey, peer.curve_secretkey = leaked, public, private
            peer.connect(f"tcp://127.0.0.1:{port}")
            for frame in _messages(peer.identity.decode()):
                peer.send(frame, zmq.NOBLOCK)
            print("curve" if curve else "zmq", flush=True)
            time.sleep(0.3)
            peer.close()
    context.term()


if __name__ == "__main__":
    main()
