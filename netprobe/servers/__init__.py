"""Server backends, one small class each behind one interface (see base.py), found through the registry."""

from __future__ import annotations

from netprobe.servers.registry import (
    BackendSpec,
    ServerOptions,
    available_backends,
    backend_names,
    backend_spec,
    make_backend,
    register,
)

__all__ = ["BackendSpec", "ServerOptions", "available_backends", "backend_names", "backend_spec",
           "make_backend", "register"]
