"""Run a ramp where its spec says: the one engine here, or a master that runs it over workers.

The spec chose its holder when it was built (``netprobe.ramp.options``): this process's client,
child processes past one process's fd limit, or ``--workers``. Distributed ramps start a master
process with locust; this module imports neither locust nor gevent, so the CLI process stays
unpatched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

from netprobe.models.ramp import RampResult, RampStep
from netprobe.ramp_spec import RampSpec


def run_spec(spec: RampSpec, progress: Optional[Callable[[RampStep, int], None]] = None,
             secret: Optional[str] = None) -> RampResult:
    """Run ``spec`` where it says: over its workers (sharing ``secret``), or on this machine."""
    if spec.distributed:
        from netprobe.distributed.controller import run_distributed
        from netprobe.distributed.secret import new_secret

        return run_distributed(spec, secret or new_secret())
    from netprobe.ramp.runner import run_ramp

    return run_ramp(spec, progress)
