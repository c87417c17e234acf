"""The client models netprobe knows: one registration each, read by the CLI, ``ramp`` and ``bench echo``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netprobe.errors import UnavailableError, UsageError
from netprobe.registration import Registration


@dataclass(frozen=True)
class ClientSpec(Registration):
    """How to find and describe one client model."""

    #: Whether its event loop can drive a server in the same thread (``Client.pump``).
    drives_inline_server: bool = False


_CLIENTS: dict[str, ClientSpec] = {}


def register(spec: ClientSpec) -> None:
    if spec.name in _CLIENTS:
        raise ValueError(f"client model name {spec.name!r} is taken")
    _CLIENTS[spec.name] = spec


def client_names() -> tuple[str, ...]:
    """Every registered client model, in registration order."""
    return tuple(_CLIENTS)


def available_clients() -> list[str]:
    return [name for name, spec in _CLIENTS.items() if spec.available()]


def client_spec(name: str) -> ClientSpec:
    """The registration of ``name``; UsageError if there is none, UnavailableError if it cannot run here."""
    spec = _CLIENTS.get(name)
    if spec is None:
        raise UsageError(f"--client must be one of {', '.join(_CLIENTS)}, got {name!r}")
    if not spec.available():
        raise UnavailableError(f"client model {name!r} is not available here: it needs {', '.join(spec.requires)}")
    return spec


def make_client(name: str, *args: Any) -> Any:
    """Create client model ``name``; only its own module (and gevent for gevent) is imported."""
    return client_spec(name).load()(*args)


register(ClientSpec("nonblocking", "netprobe.clients.nonblocking", "NonblockingClient",
                    "one thread, non-blocking sockets on a selector, connects in batches",
                    drives_inline_server=True))
register(ClientSpec("threads", "netprobe.clients.threads", "ThreadsClient",
                    "one OS thread per connection, blocking calls, as in the tutorial"))
register(ClientSpec("gevent", "netprobe.clients.gevent_client", "GeventClient",
                    "one greenlet per connection on gevent's sockets (no monkey-patching)",
                    requires=("gevent",)))
