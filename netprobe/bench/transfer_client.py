"""The load client of ``bench transfer``: CLIENTS threads, each gets a file then puts it back.

Run as ``python -m netprobe.bench.transfer_client HOST PORT CLIENTS PATH SHA256HEX``, the
tutorial's 500-thread get/put client made to check what it receives. Prints one JSON line.
"""

from __future__ import annotations

import hashlib
import json
import socket
import sys
import threading
import time
from typing import Any


def main(argv: list[str]) -> int:
    """Run every client's get and put, then print the counts and latencies as one JSON line."""
    from netprobe.errors import ProtocolError
    from netprobe.protocols.files_client import get, put
    from netprobe.sockets import abort

    host, port, clients, path, expected = argv[0], int(argv[1]), int(argv[2]), argv[3], bytes.fromhex(argv[4])
    lock = threading.Lock()
    outcome: dict[str, Any] = {"completed": 0, "failed": 0, "corrupt": 0, "errors": {}, "latencies": [], "bytes": 0}
    start_line = threading.Barrier(clients + 1)

    def one(i: int) -> None:
        sock = None
        try:
            start_line.wait()
            began = time.perf_counter()
            sock = socket.create_connection((host, port), timeout=60)
            data = get(sock, path)
            if hashlib.sha256(data).digest() != expected:
                raise ProtocolError("corrupt: the file differs from the one served")
            put(sock, f"upload-{i}.bin", data)
            elapsed = (time.perf_counter() - began) * 1000.0
            with lock:
                outcome["completed"] += 1
                outcome["latencies"].append(elapsed)
                outcome["bytes"] += 2 * len(data)
        except (OSError, ProtocolError, threading.BrokenBarrierError) as exc:
            with lock:
                key = "corrupt" if "corrupt" in str(exc) else "failed"
                outcome[key] += 1
                outcome["errors"][f"{type(exc).__name__}: {exc}"] = True
        finally:
            if sock is not None:
                abort(sock)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    start_line.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    outcome["seconds"] = time.perf_counter() - began
    outcome["errors"] = list(outcome["errors"])[:5]
    print(json.dumps(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
