"""One thread per connection, as in the tutorial's 100- and 500-thread clients, so its cost shows."""

from __future__ import annotations

import queue
import socket
import threading
import time
from array import array
from collections.abc import Callable
from typing import Any, Optional

from netprobe.clients.base import Client, set_nodelay
from netprobe.clients.outcome import BatchOutcome
from netprobe.clients.pingpong import blocking_pingpong
from netprobe.sockets import abort
from netprobe.vocabulary import Operation, Verify

# How long close() waits for the connection threads to finish.
JOIN_TIMEOUT = 10.0


class ThreadsClient(Client):
    """One OS thread per connection with blocking calls, as the tutorial's clients do."""

    name = "threads"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._release = threading.Event()
        self._threads: list[threading.Thread] = []

    def _connection(self, dest: tuple[str, int], src: Optional[str], timeout: float,
                    results: queue.Queue[Any]) -> None:
        """Connect, check, report, then keep the connection open until released."""
        try:
            sock = socket.socket(self.family, socket.SOCK_STREAM)
        except OSError as exc:
            results.put((Operation.SOCKET, exc, None, None))
            return
        failed, error, latency = self.connect_and_check(sock, dest, src, timeout)
        if failed is not None:
            abort(sock)
            results.put((failed, error, None, None))
            return
        results.put((None, None, sock, latency))
        self._release.wait()
        abort(sock)

    def open(self, count: int, timeout: float, should_abort: Callable[[], bool]) -> BatchOutcome:
        out = BatchOutcome()
        results: queue.Queue[Any] = queue.Queue()
        started = 0
        for _ in range(count):
            dest, src = self._next_addresses()
            thread = threading.Thread(target=self._connection, args=(dest, src, timeout, results), daemon=True)
            try:
                thread.start()
            except RuntimeError as start_error:  # "can't start new thread": memory or a thread limit
                out.fail(Operation.THREAD, None, str(start_error))
                break
            self._threads.append(thread)
            started += 1
        deadline = time.monotonic() + timeout + 1.0
        for _ in range(started):
            try:
                kind, exc, sock, latency = results.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                out.unanswered += 1
                continue
            out.tally(kind, exc, latency)
            if kind is None:
                self._hold(sock)
        return out

    def reverify(self, conns: list[Any], timeout: float) -> BatchOutcome:
        """Check older connections from this thread; their own threads are idle, waiting for release."""
        out = BatchOutcome()
        for sock in conns:
            try:
                if self.verify != Verify.CONNECT:
                    out.latencies_ms.append(self.roundtrip(sock))
                out.verified += 1
            except TimeoutError:
                out.unanswered += 1
            except ConnectionResetError as exc:
                out.peer_closed += 1
                out.fail(Operation.VERIFY, exc)
            except (OSError, ValueError) as exc:
                out.fail(Operation.VERIFY, exc)
        return out

    def pingpong(self, payload: bytes, deadline: float, latencies: array[float]) -> tuple[int, int]:
        """A second thread per connection runs the round trips; the connection's own thread idles."""
        set_nodelay(self.verified)
        results: list[tuple[int, int, array[float]]] = []

        def worker(sock: socket.socket) -> None:
            own = array("d")
            trips, errors = blocking_pingpong(sock, payload, deadline, own)
            results.append((trips, errors, own))

        workers = [threading.Thread(target=worker, args=(s,), daemon=True) for s in self.verified]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        for _, _, own in results:
            latencies.extend(own)
        return sum(r[0] for r in results), sum(r[1] for r in results)

    def close(self) -> None:
        self._release_watch()
        self._release.set()
        deadline = time.monotonic() + JOIN_TIMEOUT
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._threads = []
        self.verified = []
