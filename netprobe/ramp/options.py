"""What the user typed for ``ramp``, and the checks that turn it into a ``RampSpec`` before any socket.

``build_ramp_spec`` checks every option against this platform, resolves names to registrations,
words to enum members and HOST:PORT text to addresses, and plans the processes the ramp needs
(``netprobe.ramp.processes``). A problem is a ``UsageError`` naming the option.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Optional

from netprobe import platform
from netprobe.clients.registry import CLIENTS
from netprobe.clients.traffic import DEFAULT_MAX_LATENCY_MS, TrafficPlan
from netprobe.errors import UnavailableError, UsageError
from netprobe.extras import require_locust
from netprobe.probes import parse_probe, parse_request, probe_choices
from netprobe.ramp.processes import CHILD_MIN_FDS, PROCESS_SPARE_FDS, plan_processes
from netprobe.ramp_spec import DEFAULT_BACKEND, DEFAULT_CLIENT, DEFAULT_MAX, Address, RampSpec
from netprobe.refusals import refusals
from netprobe.servers.registry import BACKENDS, resolve_options
from netprobe.sockets import check_destination, parse_host_port
from netprobe.vocabulary import Placement, Verify

# Default port of the master, as locust's (5557); 0 picks a free one (what --spawn-local does).
MASTER_PORT = 5557
MAX_WORKERS = 1000
# Client processes one machine runs for a ramp of its own: each is a Python interpreter (about 20 MB).
MAX_CLIENT_PROCESSES = 256
MAX_SOURCE_IPS = 254  # 127.0.0.1-127.0.0.254
MAX_SECONDS = 7 * 24 * 3600  # longer than any hold or wait a ramp means; larger values overflow sleep()
MIN_TIMEOUT = 0.001
MAX_PORTS = 1024
# Seconds of traffic each step carries with --rate when --hold does not say.
TRAFFIC_SECONDS = 2.0
MAX_RATE = 100_000.0  # one request in flight per connection: no reply comes back faster than 10 µs
MAX_TOTAL_RATE = 100_000_000.0
MAX_CHURN = 1_000_000  # new connections a second: past what one machine's kernel accepts
# The client model a distributed ramp's workers hold connections with: they run on locust's gevent hub.
WORKER_CLIENT = "gevent"


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
    client: Optional[str] = None  # None: the default model (nonblocking; gevent on workers)
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
    client_processes: Optional[int] = None  # netprobe's client as this many processes on this machine
    rate: Optional[float] = None  # requests a second on each held connection
    total_rate: Optional[float] = None  # requests a second over every held connection
    max_latency: float = DEFAULT_MAX_LATENCY_MS  # milliseconds of p99 past which a step is the knee
    request: Optional[str] = None  # hex:BYTES: the traffic's request instead of the check's
    churn: Optional[int] = None  # new connections a second at the last step, each closed after one exchange


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
                        ("--max", opts.max), ("--ports", opts.ports), ("--source-ips", opts.source_ips),
                        ("--churn", opts.churn)):
        _positive(name, value)
    if opts.churn is not None:
        opts = _churn(opts)
    _seconds("--hold", opts.hold, zero_ok=True)
    _seconds("--timeout", opts.timeout, zero_ok=False, least=MIN_TIMEOUT)
    if opts.ports > MAX_PORTS:
        raise UsageError(f"--ports {opts.ports} is above {MAX_PORTS}: each is a listener of netprobe's own server")
    if opts.to is not None and opts.to > opts.max:
        raise UsageError(f"--to {opts.to} is above --max {opts.max}")
    distributed = opts.workers is not None or opts.spawn_local or opts.master_bind is not None
    client = CLIENTS.get(opts.client or (WORKER_CLIENT if distributed else DEFAULT_CLIENT))
    verify = _verify(opts)
    refusals()  # a bad $NETPROBE_REFUSALS file is a usage error now, not at the stop
    # Options that cannot go with the target are named before what this platform cannot do.
    target_address = _external_target(opts) if opts.target is not None else None
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
        probe=opts.probe, traffic=_traffic(opts, verify))
    workers = _workers(opts) if distributed else {}
    if target_address is not None:
        return _client_processes(RampSpec(**common, **workers, target_address=target_address), opts)
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
    return _client_processes(plan_processes(spec, server_processes_given=opts.processes is not None), opts)


def _client_processes(spec: RampSpec, opts: RampOptions) -> RampSpec:
    """--client-processes: the client as that many processes, or as many as the fd limit already needs."""
    given = opts.client_processes
    if given is None:
        return spec
    if not 0 < given <= MAX_CLIENT_PROCESSES:
        raise UsageError(f"--client-processes must be 1-{MAX_CLIENT_PROCESSES}, got {given}")
    for option, ties in (("--workers", spec.distributed), ("--placement thread", spec.in_process)):
        if ties:
            raise UsageError(f"--client-processes spreads netprobe's own client over processes on this machine; "
                             f"it cannot go with {option}")
    return dataclasses.replace(spec, client_processes=max(given, spec.client_processes))


def _verify(opts: RampOptions) -> Verify:
    """The check of each connection: a probe's reply with --probe, else --verify or its default."""
    if opts.probe is not None:
        parse_probe(opts.probe)
        if opts.target is None:
            raise UsageError(f"--probe {opts.probe} speaks to a server of yours: give its --target "
                             "(netprobe's own server speaks echo, checked by --verify echo)")
        if opts.verify not in (None, Verify.PROBE):
            raise UsageError(f"--probe checks each connection with its request; it cannot go with "
                             f"--verify {opts.verify}")
        return Verify.PROBE
    if opts.verify == Verify.PROBE:
        raise UsageError(f"--verify probe needs --probe {probe_choices()}")
    return Verify(opts.verify or (Verify.CONNECT if opts.target else Verify.ECHO))


def _churn(opts: RampOptions) -> RampOptions:
    """--churn's goal as the plan's: its steps are new connections a second, not connections held."""
    assert opts.churn is not None
    for option, given in (("--to", opts.to), ("--rate", opts.rate), ("--total-rate", opts.total_rate)):
        if given is not None:
            raise UsageError(f"--churn {opts.churn} is the goal, in new connections a second; it cannot go with "
                             f"{option} (traffic on held connections is a ramp of its own)")
    if opts.churn > MAX_CHURN:
        raise UsageError(f"--churn {opts.churn} is above {MAX_CHURN:,} new connections a second")
    return dataclasses.replace(opts, to=opts.churn, max=max(opts.max, opts.churn))


def _traffic(opts: RampOptions, verify: Verify) -> Optional[TrafficPlan]:
    """The traffic of --rate, --total-rate or --churn: each step carries it for --hold seconds (or TRAFFIC_SECONDS)."""
    if opts.churn is not None:
        if opts.request is not None:
            parse_request(opts.request)
        return TrafficPlan(float(opts.churn), None, opts.hold or TRAFFIC_SECONDS, opts.timeout, opts.max_latency,
                           opts.request, churn=True)
    if opts.rate is None and opts.total_rate is None:
        for option, given in (("--max-latency", opts.max_latency != DEFAULT_MAX_LATENCY_MS),
                              ("--request", opts.request is not None)):
            if given:
                raise UsageError(f"{option} goes with traffic: give --rate or --total-rate too")
        return None
    if opts.rate is not None and opts.total_rate is not None:
        raise UsageError("--rate is per connection and --total-rate over all of them: give one")
    for name, value, most in (("--rate", opts.rate, MAX_RATE), ("--total-rate", opts.total_rate, MAX_TOTAL_RATE),
                              ("--max-latency", opts.max_latency, MAX_SECONDS * 1000.0)):
        _positive(name, value)
        if value is not None and value > most:
            raise UsageError(f"{name} {value:g} is above {most:,.0f}")
    if opts.request is not None:
        parse_request(opts.request)
    elif verify == Verify.CONNECT:
        raise UsageError("--rate sends requests the server must answer: with --target, name them with --probe "
                         f"{probe_choices()}, --request hex:BYTES, or --verify echo for an echo server")
    elif opts.probe is not None and not parse_probe(opts.probe).repeatable:
        raise UsageError(f"--rate sends the probe's request again and again; --probe {opts.probe} is a handshake "
                         "its server takes once per connection: give the traffic's own with --request hex:BYTES")
    return TrafficPlan(opts.rate, opts.total_rate, opts.hold or TRAFFIC_SECONDS, opts.timeout, opts.max_latency,
                       opts.request)


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
    if opts.client not in (None, WORKER_CLIENT):
        raise UsageError(f"--client {opts.client} cannot apply with --workers: a worker holds its connections "
                         f"on locust's gevent hub, with the {WORKER_CLIENT} client")
    if opts.source_ips != 1 and not opts.spawn_local:
        raise UsageError("--source-ips is per worker with --workers: give each `netprobe worker` its --source-ip "
                         "(with --spawn-local it is the local workers' addresses in all)")
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
    if ":" in address[0] and opts.source_ips != 1:
        raise UsageError("--source-ips binds clients to 127.0.0.x: an IPv6 --target has the one loopback address ::1")
    for option, given in (("--fd-limit", opts.fd_limit is not None), ("--ports", opts.ports != 1),
                          ("--backend", opts.backend != DEFAULT_BACKEND), ("--selector", opts.selector is not None),
                          ("--loop", opts.loop is not None),
                          ("--placement (--server)", opts.placement != Placement.PROCESS),
                          ("--processes", opts.processes is not None)):
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
