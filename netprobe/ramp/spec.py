"""A ramp's one typed spec: built once from what the user typed, read unchanged by every process.

``build_ramp_spec`` checks every option against this platform, before any socket, and resolves
names to registrations, words to enum members and HOST:PORT text to addresses. The frozen
``RampSpec`` it returns is the only message a ramp sends across a process boundary: to the
fresh process of ``--backend all`` (``netprobe.ramp.one``), to the distributed master, and, as
its ``ServerSpec``, to the server child. Its JSON is the ``config`` object of every
``netprobe.ramp/1`` document, whose keys predate it: ``target``, ``selector`` and
``master_bind`` are written from the resolved addresses and selector for readers, and ignored
on the way back in.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Optional

from netprobe import platform
from netprobe.clients.registry import CLIENTS, ClientSpec
from netprobe.errors import UnavailableError, UsageError
from netprobe.extras import require_locust
from netprobe.probes import parse_probe
from netprobe.records import Record
from netprobe.selector_catalog import catalogue_name
from netprobe.servers.registry import BACKENDS, BackendSpec, ServerOptions, resolve_options
from netprobe.servers.spec import ServerSpec
from netprobe.sockets import check_destination, format_address, parse_host_port
from netprobe.stops import refusals
from netprobe.vocabulary import Placement, Verify

DEFAULT_MAX = 100_000
DEFAULT_BACKEND = "selectors"
DEFAULT_CLIENT = "nonblocking"
# Default port of the master, as locust's (5557); 0 picks a free one (what --spawn-local does).
MASTER_PORT = 5557
MAX_WORKERS = 1000
MAX_SOURCE_IPS = 254  # 127.0.0.1-127.0.0.254
MAX_SECONDS = 7 * 24 * 3600  # longer than any hold or wait a ramp means; larger values overflow sleep()
MIN_TIMEOUT = 0.001
MAX_PORTS = 1024
# fds a server child needs before its first connection (stdio, listeners, its loop), with room.
CHILD_MIN_FDS = 16
# fds netprobe's own process needs beyond those already open (psutil, pipes, the report file).
PROCESS_SPARE_FDS = 16

Address = tuple[str, int]
# Keys of a netprobe.ramp/1 document's ``config`` that are written from the resolved fields, and the
# field each stands before: readers have always seen them in this order.
DERIVED_BEFORE = {"loop": "selector", "allow_remote": "target", "spawn_local": "master_bind"}


@dataclass(frozen=True)
class RampOptions:
    """What the user typed for ``ramp``, before any check: the CLI's values, as the CLI parsed them."""

    to: Optional[int] = None
    step: Optional[int] = None
    hold: float = 0.0
    timeout: float = 5.0
    fd_limit: Optional[int] = None
    max: int = DEFAULT_MAX
    backend: str = DEFAULT_BACKEND
    selector: Optional[str] = None
    loop: Optional[str] = None
    placement: Placement = Placement.PROCESS
    client: str = DEFAULT_CLIENT
    verify: Optional[Verify] = None
    target: Optional[str] = None  # HOST:PORT of an external server
    allow_remote: bool = False
    ports: int = 1
    source_ips: int = 1
    sample: int = 16
    workers: Optional[int] = None
    master_bind: Optional[str] = None
    spawn_local: bool = False
    worker_wait: float = 60.0
    probe: Optional[str] = None  # redis, memcached, http or hex:BYTES
    processes: Optional[int] = None  # netprobe's own server as this many processes on one port


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
    # the client each run as several processes on this machine (see ``plan_processes``).
    server_processes: int = 1
    client_processes: int = 1

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


def _positive(name: str, value: Optional[float]) -> None:
    if value is None:
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{name} must be a finite number, got {value}")
    if value <= 0:
        raise UsageError(f"{name} must be greater than 0, got {value}")


def _seconds(name: str, value: float, zero_ok: bool, least: float = 0.0) -> None:
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        floor = "0 or more" if zero_ok else "above 0"
        raise UsageError(f"{name} must be a finite number of seconds, {floor}, got {value}")
    if value > MAX_SECONDS:
        raise UsageError(f"{name} {value:g} is above {MAX_SECONDS:,} seconds (a week)")
    if 0 < value < least:
        raise UsageError(f"{name} {value:g} is below {least:g} s: no handshake or reply is that fast")


def build_ramp_spec(opts: RampOptions) -> RampSpec:
    """Check every option against this platform and resolve it; UsageError names the first problem."""
    for name, value in (("--to", opts.to), ("--step", opts.step), ("--timeout", opts.timeout),
                        ("--max", opts.max), ("--ports", opts.ports), ("--source-ips", opts.source_ips)):
        _positive(name, value)
    _seconds("--hold", opts.hold, zero_ok=True)
    _seconds("--timeout", opts.timeout, zero_ok=False, least=MIN_TIMEOUT)
    if opts.ports > MAX_PORTS:
        raise UsageError(f"--ports {opts.ports} is above {MAX_PORTS}: each is a listener of netprobe's own server")
    if opts.to is not None and opts.to > opts.max:
        raise UsageError(f"--to {opts.to} is above --max {opts.max}")
    client = CLIENTS.get(opts.client)
    verify = _verify(opts)
    refusals()  # a bad $NETPROBE_REFUSALS file is a usage error now, not at the stop
    if opts.source_ips > 1:
        if not platform.can_bind_loopback_aliases():
            raise UnavailableError("--source-ips needs other loopback source addresses, which this "
                                   "platform does not route without configured aliases")
        if opts.source_ips > MAX_SOURCE_IPS:
            raise UsageError(f"--source-ips {opts.source_ips} is above {MAX_SOURCE_IPS} "
                             f"(127.0.0.1-127.0.0.{MAX_SOURCE_IPS})")
    common: dict[str, Any] = dict(
        to=opts.to, step=opts.step, hold=opts.hold, timeout=opts.timeout, max=opts.max, client=client,
        verify=verify, allow_remote=opts.allow_remote, source_ips=opts.source_ips, sample=opts.sample,
        probe=opts.probe)
    distributed = _workers(opts) if (opts.workers is not None or opts.spawn_local
                                     or opts.master_bind is not None) else {}
    if opts.target is not None:
        return RampSpec(**common, **distributed, target_address=_external_target(opts))
    backend = BACKENDS.get(opts.backend)
    options = resolve_options(backend, opts.selector, opts.loop)
    spec = RampSpec(**common, backend=backend, selector_class=options.selector_class, loop=options.loop,
                    placement=Placement(opts.placement), ports=opts.ports, fd_limit=opts.fd_limit)
    if opts.fd_limit is not None:
        _check_fd_limit(spec, opts.fd_limit)
    if opts.processes is not None:
        from netprobe.servers.group import check_processes

        check_processes(opts.processes, opts.ports)
        if spec.in_process:
            raise UsageError("--processes runs netprobe's server in processes of its own: not with --placement thread")
        spec = dataclasses.replace(spec, server_processes=opts.processes)
    return plan_processes(spec, server_processes_given=opts.processes is not None)


# fds a process of a spread ramp keeps beyond its connections (stdio, selector, pipes, psutil).
PROCESS_FD_RESERVE = 64
# Headroom for the busiest server process, in standard deviations of its share (see busiest_share).
SHARE_SIGMAS = 6


def busiest_share(connections: int, processes: int) -> int:
    """The most connections one of ``processes`` server processes on one port should be ready to hold.

    The kernel hands each connection to one SO_REUSEPORT listener by a hash of its addresses and
    ports, so the processes' shares vary like a binomial's: about the square root of the mean
    apart. At a million over 51 processes the mean is 19,608 and the busiest took 41 more than
    its fd budget of mean plus 64 (EMFILE at 999,959). Six standard deviations above the mean:
    at that count no process runs out.
    """
    mean = connections / processes
    return math.ceil(mean + SHARE_SIGMAS * math.sqrt(mean * (1 - 1 / processes)))


def connections_per_source() -> Optional[int]:
    """Connections one loopback source address carries to one server port before connect() slows down.

    connect() picks its port by walking the ephemeral range from a point past its last choice (even
    ports first, then odd), checking each taken port against the established sockets; with small
    random gaps it leaves, the walk grows as the range fills. A million-connection ramp whose
    client processes took half the range each (the whole even half) spent 9.4% of the machine's
    samples in ``__inet_check_established`` in its last steps against 0.9% in its first, and its
    steps grew from 4.3 s to 11.9 s. At a quarter of the range a walk stays short to the end.
    """
    ports = platform.read_system_facts().port_count
    return ports // 4 if ports else None


def sources_per_client(connections: int) -> int:
    """Loopback source addresses one client process connects from, so none carries more than its share."""
    per_source = connections_per_source()
    return max(1, -(-connections // per_source)) if per_source else 1


def plan_processes(spec: RampSpec, server_processes_given: bool = False) -> RampSpec:
    """Spread a ramp of netprobe's own server over as many processes as one process's fd limit requires.

    A process holds at most its hard fd limit (less a reserve): a ``--to`` past it runs the server
    as several processes on one port (where the kernel spreads it: ``platform.SHARES_PORT``) and
    the client as several, each from loopback addresses of its own, as many as keep each address to
    a quarter of its ports (``connections_per_source``). A ``--to`` one process can hold stays in one process, so its
    own walls (ports included) are still the ones named; ``--processes N`` fixes the server's
    count (``--processes 1``: one server process's own wall, however many clients it takes).
    Anything that ties the ramp to one process (``--fd-limit``, the thread placement, ``--ports``,
    ``--source-ips``) keeps it there.
    """
    if (spec.to is None or spec.placement != Placement.PROCESS or spec.fd_limit is not None
            or spec.ports != 1 or spec.source_ips != 1 or spec.target_address is not None):
        return spec  # (--processes alone still chose the server's processes)
    _, hard, _ = platform.fd_limits()
    if hard is None:
        return spec  # no fd limit to spread past (Windows: handles)
    per_process = hard - PROCESS_FD_RESERVE
    if spec.to <= per_process:
        return spec  # one client process holds it; --processes alone still chose the server's
    servers = 1
    if platform.SHARES_PORT:
        servers = -(-spec.to // per_process)
        while busiest_share(spec.to, servers) > per_process:
            servers += 1
    if server_processes_given:
        servers = spec.server_processes
    # Where loopback aliases route, each client process holds its fd budget, from as many addresses
    # as its share needs (sources_per_client); elsewhere every process would share 127.0.0.1's ports.
    clients = -(-spec.to // per_process) if platform.can_bind_loopback_aliases() else 1
    if servers == spec.server_processes and clients == 1:
        return spec
    return dataclasses.replace(spec, server_processes=servers, client_processes=clients)


def _verify(opts: RampOptions) -> Verify:
    """The check of each connection: a probe's reply with --probe, else --verify or its default."""
    if opts.probe is not None:
        parse_probe(opts.probe)
        if opts.verify not in (None, Verify.PROBE):
            raise UsageError(f"--probe checks each connection with its request; it cannot go with "
                             f"--verify {opts.verify}")
        return Verify.PROBE
    if opts.verify == Verify.PROBE:
        raise UsageError("--verify probe needs --probe redis, memcached, http or hex:BYTES")
    return Verify(opts.verify or (Verify.CONNECT if opts.target else Verify.ECHO))


def build_ceiling_specs(opts: RampOptions) -> list[RampSpec]:
    """``--backend all``: one spec per backend available here, each with its own defaults."""
    if opts.target is not None:
        raise UsageError("--backend all ramps netprobe's own servers; it cannot apply to --target")
    if opts.workers is not None:
        raise UsageError("--backend all ramps netprobe's own servers; --workers ramps a --target")
    for option, given in (("--selector", opts.selector), ("--loop", opts.loop)):
        if given is not None:
            raise UsageError(f"{option} chooses for one backend; --backend all runs each with its default")
    return [build_ramp_spec(dataclasses.replace(opts, backend=spec.name)) for spec in BACKENDS.available()]


def _workers(opts: RampOptions) -> dict[str, Any]:
    """A distributed ramp: workers against an external --target, the master where workers can reach it."""
    if opts.workers is None:
        raise UsageError("--spawn-local and --master-bind go with --workers N")
    if not 0 < opts.workers <= MAX_WORKERS:
        raise UsageError(f"--workers must be 1-{MAX_WORKERS}, got {opts.workers}")
    if opts.target is None:
        raise UsageError("--workers ramps an external server: name it with --target HOST:PORT "
                         "(start one here with `netprobe serve`)")
    if opts.source_ips != 1:
        raise UsageError("--source-ips is per worker with --workers: give each `netprobe worker` its --source-ip")
    _seconds("--worker-wait", opts.worker_wait, zero_ok=False)
    require_locust("--workers")
    if opts.master_bind is None:
        master: Address = ("127.0.0.1", 0 if opts.spawn_local else MASTER_PORT)
    else:
        host, port = parse_host_port(opts.master_bind, "--master-bind")
        master = (check_destination(host, opts.allow_remote, "--master-bind"), port)
    return dict(workers=opts.workers, spawn_local=opts.spawn_local, worker_wait=opts.worker_wait,
                master_address=master)


def _external_target(opts: RampOptions) -> Address:
    """An external server: the options that shape netprobe's own server cannot apply."""
    host, port = parse_host_port(opts.target or "")
    address = (check_destination(host, opts.allow_remote), port)
    for option, given in (("--fd-limit", opts.fd_limit is not None), ("--ports", opts.ports != 1),
                          ("--backend", opts.backend != DEFAULT_BACKEND), ("--selector", opts.selector is not None),
                          ("--loop", opts.loop is not None),
                          ("--placement (--server)", opts.placement != Placement.PROCESS)):
        if given:
            raise UsageError(f"{option} shapes netprobe's own server; it cannot apply to --target")
    return address


def _fewest_fds(spec: RampSpec) -> int:
    """The lowest --fd-limit with which the ramp can still run and meet the limit, not crash on it."""
    if spec.placement == Placement.THREAD:
        import psutil

        return (platform.process_fds(psutil.Process()) or 0) + PROCESS_SPARE_FDS + spec.ports
    return CHILD_MIN_FDS + spec.ports


def _check_fd_limit(spec: RampSpec, fd_limit: int) -> None:
    _positive("--fd-limit", fd_limit)
    try:
        platform.check_soft_fd_limit(fd_limit)
    except platform.Unsupported:
        raise UnavailableError("--fd-limit needs RLIMIT_NOFILE, which this platform does not have") from None
    except platform.AboveHardLimit as exc:
        raise UsageError(f"--fd-limit {fd_limit} is above the hard limit {exc.hard}") from None
    floor = _fewest_fds(spec)
    if fd_limit < floor:
        where = "this process, which also runs the client," if spec.placement == Placement.THREAD else "the server"
        raise UsageError(f"--fd-limit {fd_limit} leaves {where} no fds to work with: give at least {floor}")
