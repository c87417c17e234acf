"""Server backends, one small class each behind one interface (see base.py).

``make_backend`` is the registry; gevent is imported only when its backend is asked for.
"""

from __future__ import annotations

import importlib.util
from typing import Optional

from netprobe.errors import UnavailableError, UsageError
from netprobe.protocols import Protocol

BACKENDS = ("selectors", "select", "gevent", "threads")


def available_backends() -> list[str]:
    """Backends this platform can run; gevent needs its package, the rest only the standard library."""
    return [b for b in BACKENDS if b != "gevent" or importlib.util.find_spec("gevent") is not None]


def check_backend(name: str) -> str:
    if name not in BACKENDS:
        raise UsageError(f"--backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    if name not in available_backends():
        raise UnavailableError(f"backend {name!r} is not available here (is gevent installed?)")
    return name


def make_backend(name: str, protocol: Protocol, host: str = "127.0.0.1", port: int = 0,
                 selector_class: Optional[str] = None):
    """Create (and bind) backend ``name``."""
    check_backend(name)
    if name == "selectors":
        from netprobe.servers.selector_server import SelectorServer

        return SelectorServer(selector_class, host, protocol=protocol, port=port)
    if name == "select":
        from netprobe.servers.select_server import SelectLoopServer

        return SelectLoopServer(protocol, host, port)
    if name == "threads":
        from netprobe.servers.thread_server import ThreadPerConnectionServer

        return ThreadPerConnectionServer(protocol, host, port)
    from netprobe.servers.gevent_server import GeventServer

    return GeventServer(protocol, host, port)
