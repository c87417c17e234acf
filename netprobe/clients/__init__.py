"""Client models that open and verify connections for ``ramp``: nonblocking, threads, gevent."""

from __future__ import annotations

from netprobe.clients.base import BatchOutcome, Client, ClientFailure  # noqa: F401


def make_client(model: str, destinations, source_ips, payload: bytes, verify: str, batch: int) -> Client:
    """Create the client model named ``model``; gevent is imported only when asked for."""
    if model == "nonblocking":
        from netprobe.clients.nonblocking import NonblockingClient as cls
    elif model == "threads":
        from netprobe.clients.threads import ThreadsClient as cls
    elif model == "gevent":
        from netprobe.clients.gevent_client import GeventClient as cls
    else:
        raise ValueError(f"unknown client model {model!r}")
    return cls(destinations, source_ips, payload, verify, batch)
