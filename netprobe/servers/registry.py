"""The server backends netprobe knows: one registration each, read by the CLI, the ramp and the tests.

Registering a backend is one ``register(BackendSpec(...))`` line below its class's module
name; nothing is imported until a backend is created, so building ``--help`` costs nothing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Optional

from netprobe.errors import UsageError
from netprobe.records import Record
from netprobe.registration import Registration, Registry

if TYPE_CHECKING:
    from netprobe.protocols import Protocol
    from netprobe.servers.base import ServerBase


@dataclass(frozen=True)
class ServerOptions(Record):
    """Backend-specific choices, resolved; each backend reads the ones that apply to it."""

    selector_class: Optional[str] = None  # selectors backend: a class name from the selectors module
    loop: Optional[str] = None  # asyncio and gevent backends: an event loop name of their --loop
    share_port: bool = False  # every backend: one of several processes listening on one port


@dataclass(frozen=True)
class BackendSpec(Registration["ServerBase"]):
    """How to find, describe and check one server backend."""

    #: Whether ``--selector`` applies to it.
    takes_selector: bool = False
    #: The module naming the event loops ``--loop`` chooses from (LOOPS, available_loops,
    #: resolve_loop), where it takes one.
    loops: Optional[str] = None
    #: Whether it starts a thread for every connection (its ceiling counts threads too).
    thread_per_connection: bool = False

    @property
    def takes_loop(self) -> bool:
        """Whether ``--loop`` applies to it."""
        return self.loops is not None

    def loop_names(self) -> ModuleType:
        """Its module of event loop names (``LOOPS``, ``available_loops()``, ``resolve_loop()``)."""
        if self.loops is None:
            raise UsageError(f"--loop does not apply to --backend {self.name}")
        return importlib.import_module(self.loops)

    def create(self, protocol: Protocol, host: str = "127.0.0.1", port: int = 0, ports: int = 1,
               options: Optional[ServerOptions] = None) -> ServerBase:
        """Create and bind this backend; only its own module (and gevent for gevent) is imported."""
        return self.load()(protocol, host, port, ports, options=options or ServerOptions())


BACKENDS: Registry[BackendSpec] = Registry(BackendSpec, "backend", "--backend", reserved=("all",))
register = BACKENDS.register
backend_names = BACKENDS.names


def parse_backend_list(text: str) -> list[BackendSpec]:
    """``all`` (every backend available here) or comma-separated names, each checked, duplicates dropped."""
    if text.strip() == "all":
        return BACKENDS.available()
    names = [b.strip() for b in text.split(",") if b.strip()]
    if not names:
        raise UsageError("--backend: name one or more of " + ", ".join(backend_names()) + ", or all")
    return [BACKENDS.get(b) for b in dict.fromkeys(names)]


def resolve_options(spec: BackendSpec, selector: Optional[str], loop: Optional[str]) -> ServerOptions:
    """Check ``--selector`` and ``--loop`` against ``spec`` and this platform; resolve them to concrete names."""
    for option, given, applies, kind in (("--selector", selector, spec.takes_selector, "takes_selector"),
                                         ("--loop", loop, spec.takes_loop, "takes_loop")):
        if given is not None and not applies:
            takers = [s.name for s in BACKENDS.specs() if getattr(s, kind)]
            raise UsageError(f"{option} applies to --backend {' or '.join(takers)}, not {spec.name}")
    resolved_loop = None
    if spec.takes_loop:
        resolved_loop = spec.loop_names().resolve_loop(loop or "default")
        if spec.takes_selector and resolved_loop != "selector" and selector is not None:
            raise UsageError(f"--selector applies to asyncio's selector loop, not --loop {resolved_loop}")
    selector_class = None
    if spec.takes_selector and resolved_loop in (None, "selector"):
        from netprobe.selector_catalog import resolve_selector

        selector_class = resolve_selector(selector or "default")
    return ServerOptions(selector_class=selector_class, loop=resolved_loop)


register(BackendSpec("selectors", "netprobe.servers.selector_server", "SelectorServer",
                     "one selectors.DefaultSelector loop (or --selector), non-blocking sockets",
                     takes_selector=True))
register(BackendSpec("select", "netprobe.servers.select_server", "SelectLoopServer",
                     "the tutorial's raw select.select() loop with input/output lists"))
register(BackendSpec("threads", "netprobe.servers.thread_server", "ThreadPerConnectionServer",
                     "one OS thread per connection, blocking calls", thread_per_connection=True))
register(BackendSpec("asyncio", "netprobe.servers.asyncio_server", "AsyncioServer",
                     "an asyncio.Protocol per connection on the event loop of --loop",
                     takes_selector=True, loops="netprobe.servers.loops"))
register(BackendSpec("gevent", "netprobe.servers.gevent_server", "GeventServer",
                     "one greenlet per connection on gevent's sockets (no monkey-patching), on the loop "
                     "of --loop", requires=("gevent",), loops="netprobe.servers.gevent_loops"))
