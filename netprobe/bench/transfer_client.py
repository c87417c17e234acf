"""The load client of ``bench transfer``: CLIENTS threads, each gets a file then puts it back.

Run as ``python -m netprobe.bench.transfer_client`` with a ``TransferLoadSpec`` as its line of
input: the tutorial's 500-thread get/put client made to check what it receives. Prints one
``TransferLoadResult``.
"""

from __future__ import annotations

import hashlib
import socket
import sys
import threading
import time

from netprobe.bench.messages import TransferLoadResult, TransferLoadSpec
from netprobe.errors import ExitStatus, ProtocolError
from netprobe.protocols.files_client import get, put
from netprobe.sockets import abort


def main() -> int:
    """Run every client's get and put, then print the counts and latencies as one record."""
    spec = TransferLoadSpec.from_json(sys.stdin.readline(), "the transfer load's spec")
    host, port, clients, path, expected = spec.host, spec.port, spec.clients, spec.path, bytes.fromhex(spec.sha256)
    lock = threading.Lock()
    counts = {"completed": 0, "failed": 0, "corrupt": 0, "bytes": 0}
    latencies: list[float] = []
    errors: dict[str, bool] = {}  # distinct messages, in the order they came
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
                counts["completed"] += 1
                latencies.append(elapsed)
                counts["bytes"] += 2 * len(data)
        except (OSError, ProtocolError, threading.BrokenBarrierError) as exc:
            with lock:
                counts["corrupt" if "corrupt" in str(exc) else "failed"] += 1
                errors[f"{type(exc).__name__}: {exc}"] = True
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
    seconds = time.perf_counter() - began
    print(TransferLoadResult(counts["completed"], counts["failed"], counts["corrupt"], seconds, counts["bytes"],
                             latencies, list(errors)[:5]).to_json())
    return ExitStatus.SUCCESS


if __name__ == "__main__":
    from netprobe.children import run_child

    run_child(main)
