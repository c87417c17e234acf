"""``netprobe worker``'s options, checked and resolved into the WorkerSpec its process reads."""

from __future__ import annotations

import math
from typing import Optional

from netprobe import platform
from netprobe.distributed.messages import WorkerSpec
from netprobe.distributed.secret import worker_secret
from netprobe.errors import PlatformError, UsageError
from netprobe.extras import require_locust
from netprobe.sockets import check_destination, parse_host_port

# A worker's own fds before its first connection: stdio, locust's sockets, psutil.
WORKER_MIN_FDS = 32


def build_worker_spec(master: str, source_ips: list[str], fd_limit: Optional[int], wait: float,
                      allow_remote: bool, secret_file: Optional[str] = None) -> WorkerSpec:
    """Check every ``netprobe worker`` option; UsageError names the first problem."""
    require_locust("netprobe worker")
    host, port = parse_host_port(master, "--master")
    address = (check_destination(host, allow_remote, "--master"), port)
    sources = [check_destination(ip, allow_remote, "--source-ip") for ip in source_ips]
    if not math.isfinite(wait) or wait <= 0:
        raise UsageError(f"--wait must be a finite number of seconds above 0, got {wait}")
    if fd_limit is not None:
        if fd_limit < WORKER_MIN_FDS:
            raise UsageError(f"--fd-limit {fd_limit} leaves the worker no fds to work with: "
                             f"give at least {WORKER_MIN_FDS}")
        try:
            platform.check_soft_fd_limit(fd_limit)
        except PlatformError as exc:
            raise UsageError(f"--fd-limit: {exc}") from None
    secret = worker_secret(secret_file)
    return WorkerSpec(master=address, source_ips=sources, fd_limit=fd_limit, wait=wait, allow_remote=allow_remote,
                      secret=secret)
