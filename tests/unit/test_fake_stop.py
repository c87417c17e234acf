"""A throwaway stop reason, to show that adding one touches the record, where it is detected, and its test."""

import json
import socket
import struct
import threading

from tests.conftest import run_netprobe


def test_a_server_that_resets_what_it_accepts_is_named():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    done = threading.Event()

    def reset_everything() -> None:
        listener.settimeout(0.2)
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    thread = threading.Thread(target=reset_everything)
    thread.start()
    try:
        port = listener.getsockname()[1]
        proc = run_netprobe("ramp", "--target", f"127.0.0.1:{port}", "--verify", "echo", "--to", "10",
                            "--format", "json")
    finally:
        done.set()
        thread.join()
        listener.close()
    doc = json.loads(proc.stdout)
    print(doc["verdict"], doc["stop"]["remedy"])
    assert proc.returncode == 1 and doc["stop"]["reason"] == "conn_reset"
