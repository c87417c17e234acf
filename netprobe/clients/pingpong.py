"""Ping-pong loads over held connections: each connection sends its payload again once the echo is back."""

from __future__ import annotations

import selectors
import socket
import time
from array import array
from collections.abc import Callable
from typing import Any

from netprobe.clients.base import echo_roundtrip

# How long one wait for events lasts before the deadline is looked at again.
IDLE_TICK = 0.05

Wait = Callable[[selectors.BaseSelector, float], list[tuple[selectors.SelectorKey, int]]]


def blocking_pingpong(sock: socket.socket, payload: bytes, deadline: float,
                      latencies: array[float]) -> tuple[int, int]:
    """Round trips on one blocking (or gevent) socket until ``deadline``: (trips, 1 if it failed else 0)."""
    trips = 0
    try:
        while time.perf_counter() < deadline:
            latencies.append(echo_roundtrip(sock, payload))
            trips += 1
    except (OSError, ValueError):
        return trips, 1
    return trips, 0


def selector_pingpong(sel: selectors.BaseSelector, socks: list[socket.socket], payload: bytes,
                      deadline: float, latencies: array[float], wait: Wait) -> tuple[int, int]:
    """Round trips on non-blocking sockets, all on one selector, until ``deadline``: (trips, failed sockets).

    ``wait`` is the holder's own event wait, so a server sharing the thread keeps working meanwhile.
    """
    size = len(payload)
    state: dict[int, list[Any]] = {}  # fd -> [sock, received, sent_at, unsent]
    errors = 0
    for s in socks:
        sent = s.send(payload)
        state[s.fileno()] = [s, 0, time.perf_counter(), size - sent]
        sel.register(s, selectors.EVENT_READ | (selectors.EVENT_WRITE if sent < size else 0))
    trips = 0
    while time.perf_counter() < deadline and state:
        for key, mask in wait(sel, IDLE_TICK):
            st = state.get(key.fd)
            if st is None:
                continue
            s = st[0]
            try:
                if mask & selectors.EVENT_WRITE and st[3]:
                    st[3] -= s.send(payload[size - st[3]:])
                    if not st[3]:
                        sel.modify(s, selectors.EVENT_READ)
                if mask & selectors.EVENT_READ:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise ConnectionResetError("closed by the server")
                    st[1] += len(chunk)
                    if st[1] >= size:
                        now = time.perf_counter()
                        latencies.append((now - st[2]) * 1000.0)
                        trips += 1
                        st[1], st[2] = 0, now
                        st[3] = size - s.send(payload)
                        if st[3]:
                            sel.modify(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                errors += 1
                sel.unregister(s)
                del state[key.fd]
    for st in state.values():
        sel.unregister(st[0])
    return trips, errors
