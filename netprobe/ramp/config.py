"""Ramp options as one validated record: every check of user input happens here, before any socket."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from netprobe import platform
from netprobe.errors import UnavailableError, UsageError
from netprobe.sockets import check_destination, parse_host_port

SERVER_PLACEMENTS = ("process", "thread")
CLIENT_MODELS = ("nonblocking", "threads", "gevent")
VERIFY_MODES = ("echo", "connect")
DEFAULT_MAX = 100_000


@dataclass
class RampConfig:
    to: Optional[int] = None
    step: Optional[int] = None
    hold: float = 0.0
    timeout: float = 5.0
    fd_limit: Optional[int] = None
    max: int = DEFAULT_MAX
    selector: str = "default"
    server: str = "process"
    client: str = "nonblocking"
    verify: Optional[str] = None
    target: Optional[str] = None
    allow_remote: bool = False
    ports: int = 1
    source_ips: int = 1
    sample: int = 16
    # Filled in by validate():
    selector_class: Optional[str] = None
    target_address: Optional[tuple[str, int]] = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        data.update(self.extra)
        return data


def _positive(name: str, value: Optional[float]) -> None:
    if value is not None and value <= 0:
        raise UsageError(f"{name} must be greater than 0, got {value}")


def validate(cfg: RampConfig) -> RampConfig:
    """Check every option against this platform; raise UsageError naming the first problem."""
    _positive("--to", cfg.to)
    _positive("--step", cfg.step)
    _positive("--timeout", cfg.timeout)
    _positive("--max", cfg.max)
    _positive("--ports", cfg.ports)
    _positive("--source-ips", cfg.source_ips)
    if cfg.hold < 0:
        raise UsageError(f"--hold must be 0 or more, got {cfg.hold}")
    if cfg.to is not None and cfg.to > cfg.max:
        raise UsageError(f"--to {cfg.to} is above --max {cfg.max}")
    if cfg.server not in SERVER_PLACEMENTS:
        raise UsageError(f"--server must be one of {', '.join(SERVER_PLACEMENTS)}, got {cfg.server!r}")
    if cfg.client not in CLIENT_MODELS:
        raise UsageError(f"--client must be one of {', '.join(CLIENT_MODELS)}, got {cfg.client!r}")
    if cfg.verify is None:
        cfg.verify = "connect" if cfg.target else "echo"
    if cfg.verify not in VERIFY_MODES:
        raise UsageError(f"--verify must be one of {', '.join(VERIFY_MODES)}, got {cfg.verify!r}")
    if cfg.source_ips > 1:
        if not platform.can_bind_loopback_aliases():
            raise UnavailableError("--source-ips needs other loopback source addresses, which this "
                                   "platform does not route without configured aliases")
        if cfg.source_ips > 254:
            raise UsageError(f"--source-ips {cfg.source_ips} is above 254 (127.0.0.1-127.0.0.254)")
    if cfg.target is not None:
        host, port = parse_host_port(cfg.target)
        cfg.target_address = (check_destination(host, cfg.allow_remote), port)
        if cfg.fd_limit is not None:
            raise UsageError("--fd-limit sets the limit of netprobe's own server; it cannot apply to --target")
        if cfg.ports != 1:
            raise UsageError("--ports spreads over netprobe's own server's ports; it cannot apply to --target")
    else:
        from netprobe.limits import resolve_selector

        cfg.selector_class = resolve_selector(cfg.selector)
    if cfg.fd_limit is not None:
        if not platform.HAS_RLIMIT:
            raise UnavailableError("--fd-limit needs RLIMIT_NOFILE, which this platform does not have")
        _positive("--fd-limit", cfg.fd_limit)
        _, hard, _ = platform.fd_limits()
        if hard is not None and cfg.fd_limit > hard:
            raise UsageError(f"--fd-limit {cfg.fd_limit} is above the hard limit {hard}")
    return cfg
