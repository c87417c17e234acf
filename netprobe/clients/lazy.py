"""A throwaway client model: the nonblocking client under another name, to show where a model lands."""

from __future__ import annotations

from netprobe.clients.nonblocking import NonblockingClient


class LazyClient(NonblockingClient):
    """The nonblocking client, registered again."""

    name = "lazy"
