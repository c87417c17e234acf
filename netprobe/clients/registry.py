"""The client models netprobe knows: one registration each, read by the CLI, ``ramp`` and ``bench echo``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from netprobe.registration import Registration, Registry
from netprobe.vocabulary import Verify

if TYPE_CHECKING:
    from netprobe.clients.base import Client
    from netprobe.probes import Probe


@dataclass(frozen=True)
class ClientSpec(Registration["Client"]):
    """How to find and describe one client model."""

    #: Whether its event loop can drive a server in the same thread (``Client.pump``).
    drives_inline_server: bool = False

    def create(self, destinations: list[tuple[str, int]], source_ips: Optional[list[str]], payload: bytes,
               verify: Verify, batch: int, probe: Optional[Probe] = None) -> Client:
        """Create this client model, checking each connection with ``probe`` where given (else the echo).

        Only its own module (and gevent for gevent) is imported.
        """
        return self.load()(destinations, source_ips, payload, verify, batch, probe)


CLIENTS: Registry[ClientSpec] = Registry(ClientSpec, "client model", "--client")
register = CLIENTS.register
client_names = CLIENTS.names


register(ClientSpec("nonblocking", "netprobe.clients.nonblocking", "NonblockingClient",
                    "one thread, non-blocking sockets on a selector, connects in batches",
                    drives_inline_server=True))
register(ClientSpec("threads", "netprobe.clients.threads", "ThreadsClient",
                    "one OS thread per connection, blocking calls, as in the tutorial"))
register(ClientSpec("gevent", "netprobe.clients.gevent_client", "GeventClient",
                    "one greenlet per connection on gevent's sockets (no monkey-patching)",
                    requires=("gevent",)))
