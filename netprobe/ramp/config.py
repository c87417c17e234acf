"""Ramp options as one validated record: every check of user input happens here, before any socket."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from netprobe import platform
from netprobe.clients.registry import client_spec
from netprobe.errors import UnavailableError, UsageError
from netprobe.servers.registry import ServerOptions, backend_spec, resolve_options
from netprobe.sockets import check_destination, parse_host_port
from netprobe.vocabulary import Placement, Verify

DEFAULT_MAX = 100_000
DEFAULT_BACKEND = "selectors"


@dataclass
class RampConfig:
    to: Optional[int] = None
    step: Optional[int] = None
    hold: float = 0.0
    timeout: float = 5.0
    fd_limit: Optional[int] = None
    max: int = DEFAULT_MAX
    backend: str = DEFAULT_BACKEND
    selector: Optional[str] = None  # None: "default" for the selectors backend
    loop: Optional[str] = None  # asyncio backend only
    placement: str = Placement.PROCESS
    client: str = "nonblocking"
    verify: Optional[str] = None
    target: Optional[str] = None
    allow_remote: bool = False
    ports: int = 1
    source_ips: int = 1
    sample: int = 16
    workers: Optional[int] = None  # a distributed ramp over this many workers (the dist extra)
    master_bind: Optional[str] = None  # HOST:PORT the master listens on for workers
    spawn_local: bool = False  # start the workers on this machine
    worker_wait: float = 60.0  # seconds the master waits for its workers
    # Filled in by validate():
    selector_class: Optional[str] = None
    target_address: Optional[tuple[str, int]] = None
    master_address: Optional[tuple[str, int]] = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def server_options(self) -> ServerOptions:
        return ServerOptions(selector_class=self.selector_class, loop=self.loop)

    @property
    def in_process(self) -> bool:
        """Whether netprobe's own server shares this process (and its fd budget) with the client."""
        return self.placement == Placement.THREAD and self.target is None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        data.update(self.extra)
        return data


def _positive(name: str, value: Optional[float]) -> None:
    if value is None:
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{name} must be a finite number, got {value}")
    if value <= 0:
        raise UsageError(f"{name} must be greater than 0, got {value}")


def _choice(option: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UsageError(f"{option} must be one of {', '.join(choices)}, got {value!r}")


def validate(cfg: RampConfig) -> RampConfig:
    """Check every option against this platform; raise UsageError naming the first problem."""
    _positive("--to", cfg.to)
    _positive("--step", cfg.step)
    _positive("--timeout", cfg.timeout)
    _positive("--max", cfg.max)
    _positive("--ports", cfg.ports)
    _positive("--source-ips", cfg.source_ips)
    if not math.isfinite(cfg.hold) or cfg.hold < 0:
        raise UsageError(f"--hold must be a finite number of seconds, 0 or more, got {cfg.hold}")
    if cfg.to is not None and cfg.to > cfg.max:
        raise UsageError(f"--to {cfg.to} is above --max {cfg.max}")
    _choice("--placement", cfg.placement, Placement.values())
    cfg.placement = Placement(cfg.placement)
    client_spec(cfg.client)
    if cfg.verify is None:
        cfg.verify = Verify.CONNECT if cfg.target else Verify.ECHO
    _choice("--verify", cfg.verify, Verify.values())
    cfg.verify = Verify(cfg.verify)
    if cfg.source_ips > 1:
        if not platform.can_bind_loopback_aliases():
            raise UnavailableError("--source-ips needs other loopback source addresses, which this "
                                   "platform does not route without configured aliases")
        if cfg.source_ips > 254:
            raise UsageError(f"--source-ips {cfg.source_ips} is above 254 (127.0.0.1-127.0.0.254)")
    if cfg.workers is not None or cfg.spawn_local or cfg.master_bind is not None:
        _validate_workers(cfg)
    if cfg.target is not None:
        _validate_target(cfg)
    else:
        _validate_own_server(cfg)
    return cfg


# Default port of the master, as locust's (5557); 0 picks a free one (what --spawn-local does).
MASTER_PORT = 5557
MAX_WORKERS = 1000


def _validate_workers(cfg: RampConfig) -> None:
    """A distributed ramp: workers against an external --target, the master where workers can reach it."""
    if cfg.workers is None:
        raise UsageError("--spawn-local and --master-bind go with --workers N")
    if not 0 < cfg.workers <= MAX_WORKERS:
        raise UsageError(f"--workers must be 1-{MAX_WORKERS}, got {cfg.workers}")
    if cfg.target is None:
        raise UsageError("--workers ramps an external server: name it with --target HOST:PORT "
                         "(start one here with `netprobe serve`)")
    if cfg.source_ips != 1:
        raise UsageError("--source-ips is per worker with --workers: give each `netprobe worker` its --source-ip")
    if not math.isfinite(cfg.worker_wait) or cfg.worker_wait <= 0:
        raise UsageError(f"--worker-wait must be a finite number of seconds above 0, got {cfg.worker_wait}")
    from netprobe.dist import check_available

    check_available()
    if cfg.master_bind is None:
        cfg.master_address = ("127.0.0.1", 0 if cfg.spawn_local else MASTER_PORT)
    else:
        host, port = parse_host_port(cfg.master_bind, "--master-bind")
        cfg.master_address = (check_destination(host, cfg.allow_remote, "--master-bind"), port)


def _validate_target(cfg: RampConfig) -> None:
    """An external server: the options that shape netprobe's own server cannot apply."""
    host, port = parse_host_port(cfg.target or "")
    cfg.target_address = (check_destination(host, cfg.allow_remote), port)
    for option, given in (("--fd-limit", cfg.fd_limit is not None), ("--ports", cfg.ports != 1),
                          ("--backend", cfg.backend != DEFAULT_BACKEND), ("--selector", cfg.selector is not None),
                          ("--loop", cfg.loop is not None),
                          ("--placement (--server)", cfg.placement != Placement.PROCESS)):
        if given:
            raise UsageError(f"{option} shapes netprobe's own server; it cannot apply to --target")


# fds a server child needs before its first connection (stdio, listeners, its loop), with room.
CHILD_MIN_FDS = 16
# fds netprobe's own process needs beyond those already open (psutil, pipes, the report file).
PROCESS_SPARE_FDS = 16


def _fewest_fds(cfg: RampConfig) -> int:
    """The lowest --fd-limit with which the ramp can still run and meet the limit, not crash on it."""
    if cfg.placement == Placement.THREAD:
        import psutil

        return (platform.process_fds(psutil.Process()) or 0) + PROCESS_SPARE_FDS + cfg.ports
    return CHILD_MIN_FDS + cfg.ports


def _validate_own_server(cfg: RampConfig) -> None:
    options = resolve_options(backend_spec(cfg.backend), cfg.selector, cfg.loop)
    cfg.selector_class, cfg.loop = options.selector_class, options.loop
    if cfg.fd_limit is not None:
        _positive("--fd-limit", cfg.fd_limit)
        try:
            platform.check_soft_fd_limit(cfg.fd_limit)
        except platform.Unsupported:
            raise UnavailableError("--fd-limit needs RLIMIT_NOFILE, which this platform does not have") from None
        except platform.AboveHardLimit as exc:
            raise UsageError(f"--fd-limit {cfg.fd_limit} is above the hard limit {exc.hard}") from None
        floor = _fewest_fds(cfg)
        if cfg.fd_limit < floor:
            where = "this process, which also runs the client," if cfg.placement == Placement.THREAD else "the server"
            raise UsageError(f"--fd-limit {cfg.fd_limit} leaves {where} no fds to work with: "
                             f"give at least {floor}")
