"""A ramp's one frozen record: everything a ramp needs, resolved and checked, read unchanged by every process.

``netprobe.ramp.options.build_ramp_spec`` builds it once from what the user typed. It is the only
message a ramp sends across a process boundary: to the fresh process of ``--backend all``
(``netprobe.ramp.one``), to the distributed master, and, as its ``ServerSpec``, to the server
child. Its JSON is the ``config`` object of every ``netprobe.ramp/1`` document, whose keys predate
it: ``target``, ``selector`` and ``master_bind`` are written from the resolved addresses and
selector for readers, and ignored on the way back in.

It sits below the result records (``RampResult.config``) and above the registries it names, and
checks nothing itself: so it imports neither the platform layer nor the probes nor the stops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from netprobe.clients.registry import CLIENTS, ClientSpec
from netprobe.clients.traffic import TrafficPlan
from netprobe.records import Record
from netprobe.selector_catalog import catalogue_name
from netprobe.servers.registry import BACKENDS, BackendSpec, ServerOptions
from netprobe.servers.spec import ServerSpec
from netprobe.sockets import format_address
from netprobe.vocabulary import Placement, Verify

DEFAULT_MAX = 100_000
DEFAULT_BACKEND = "selectors"
DEFAULT_CLIENT = "nonblocking"

Address = tuple[str, int]
# Keys of a netprobe.ramp/1 document's ``config`` that are written from the resolved fields, and the
# field each stands before: readers have always seen them in this order.
DERIVED_BEFORE = {"loop": "selector", "allow_remote": "target", "spawn_local": "master_bind"}


def _default_backend() -> BackendSpec:
    return BACKENDS.get(DEFAULT_BACKEND)


def _default_client() -> ClientSpec:
    return CLIENTS.get(DEFAULT_CLIENT)


@dataclass(frozen=True)
class RampSpec(Record):
    """Everything a ramp needs, resolved and checked; nothing in it is looked up again."""

    to: Optional[int] = None  # connections to reach; None: ramp until a limit or ``max``
    step: Optional[int] = None
    hold: float = 0.0
    timeout: float = 5.0
    fd_limit: Optional[int] = None  # the server side's soft fd limit, set exactly
    max: int = DEFAULT_MAX
    backend: BackendSpec = field(default_factory=_default_backend)
    loop: Optional[str] = None  # the asyncio backend's event loop, resolved
    placement: Placement = Placement.PROCESS
    client: ClientSpec = field(default_factory=_default_client)
    verify: Verify = Verify.ECHO
    allow_remote: bool = False
    ports: int = 1
    source_ips: int = 1
    sample: int = 16  # older connections re-checked after each step
    workers: Optional[int] = None  # a distributed ramp over this many workers
    spawn_local: bool = False
    worker_wait: float = 60.0
    selector_class: Optional[str] = None  # what netprobe's own server waits with, resolved
    target_address: Optional[Address] = None  # an external server instead of netprobe's own
    master_address: Optional[Address] = None  # where a distributed ramp's master listens
    probe: Optional[str] = None  # the request each check sends instead of the echo (netprobe.probes)
    # Past one process's hard fd limit (or one source address's ports), netprobe's own server and
    # the client each run as several processes on this machine (see ``netprobe.ramp.processes``).
    server_processes: int = 1
    client_processes: int = 1
    traffic: Optional[TrafficPlan] = None  # requests on the held connections each step (--rate, --total-rate)

    @property
    def spread(self) -> bool:
        """Whether the ramp spans several processes on this machine."""
        return self.server_processes > 1 or self.client_processes > 1

    @property
    def server_options(self) -> ServerOptions:
        """The backend's resolved selector and loop."""
        return ServerOptions(selector_class=self.selector_class, loop=self.loop)

    @property
    def in_process(self) -> bool:
        """Whether netprobe's own server shares this process (and its fd budget) with the client."""
        return self.placement == Placement.THREAD and self.target_address is None

    @property
    def distributed(self) -> bool:
        """Whether worker processes (on this machine or others) hold the connections."""
        return self.workers is not None

    def server_spec(self, want_fds: Optional[int]) -> ServerSpec:
        """How to start this ramp's own server in a child process."""
        return ServerSpec(backend=self.backend, options=self.server_options, ports=self.ports,
                          fd_limit=self.fd_limit, want_fds=want_fds)

    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON data, with the derived keys readers of ``config`` have always had, in their order."""
        derived = {
            "target": format_address(self.target_address) if self.target_address else None,
            "master_bind": format_address(self.master_address) if self.master_address else None,
            "selector": catalogue_name(self.selector_class) if self.selector_class else None,
        }
        data: dict[str, Any] = {}
        for key, value in super().to_dict().items():
            if key in DERIVED_BEFORE:
                data[DERIVED_BEFORE[key]] = derived[DERIVED_BEFORE[key]]
            data[key] = value
        return data
