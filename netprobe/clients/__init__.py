"""Client models that open, check and drive connections for ``ramp`` and ``bench echo``."""

from __future__ import annotations

from netprobe.clients.base import BatchOutcome, Client, ClientFailure
from netprobe.clients.registry import ClientSpec, available_clients, client_names, client_spec, make_client

__all__ = ["BatchOutcome", "Client", "ClientFailure", "ClientSpec", "available_clients", "client_names",
           "client_spec", "make_client"]
