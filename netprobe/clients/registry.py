"""The client models netprobe knows: one registration each, read by the CLI, ``ramp`` and ``bench echo``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netprobe.registration import Registration, Registry


@dataclass(frozen=True)
class ClientSpec(Registration):
    """How to find and describe one client model."""

    #: Whether its event loop can drive a server in the same thread (``Client.pump``).
    drives_inline_server: bool = False


CLIENTS: Registry[ClientSpec] = Registry("client model", "--client")
register = CLIENTS.register
client_names = CLIENTS.names
client_spec = CLIENTS.get


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
