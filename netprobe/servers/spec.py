"""What it takes to start one server: a typed record that crosses into a server child as one JSON line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from netprobe.records import Record
from netprobe.servers.registry import BACKENDS, BackendSpec, ServerOptions
from netprobe.vocabulary import ProtocolName

if TYPE_CHECKING:
    from netprobe.servers.base import ServerBase


def _default_backend() -> BackendSpec:
    return BACKENDS.get("selectors")


@dataclass(frozen=True)
class ServerSpec(Record):
    """A backend, its protocol, where it listens and the fd budget of its process."""

    backend: BackendSpec = field(default_factory=_default_backend)
    options: ServerOptions = field(default_factory=ServerOptions)
    protocol: ProtocolName = ProtocolName.ECHO
    host: str = "127.0.0.1"
    port: int = 0
    ports: int = 1
    root: Optional[str] = None  # the file protocol's directory
    max_file_size: Optional[int] = None
    cost_us: int = 0  # microseconds of CPU each echo or upper reply burns first
    #: A server child's soft fd limit, set exactly (``--fd-limit``) ...
    fd_limit: Optional[int] = None
    #: ... or raised toward this many fds where the hard limit allows.
    want_fds: Optional[int] = None

    def create(self) -> ServerBase:
        """Make the protocol and bind the backend in this process."""
        from netprobe.protocols import make_protocol

        protocol = make_protocol(self.protocol, self.root, self.max_file_size, self.cost_us)
        return self.backend.create(protocol, self.host, self.port, self.ports, self.options)
