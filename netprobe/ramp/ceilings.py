"""``ramp --backend all``: ramp every backend available here in turn, and sum each up in one row.

The tutorial's question (select, selectors, threads, gevent, asyncio: which holds how many,
and what stops each?) answered with measurements: each backend gets the same plan and the
same client model, in a fresh process of its own with a fresh server, so no backend's
memory figures inherit another's heap.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Optional

from netprobe.children import python_command, start_command
from netprobe.errors import ChildFailed, ExitStatus
from netprobe.hostinfo import platform_info
from netprobe.models.ramp import CeilingRow, CeilingsResult, RampResult, RampStep
from netprobe.ramp_spec import RampSpec


def _per_connection(steps: list[RampStep], side: str) -> Optional[float]:
    """Bytes of RSS per connection held: the slope from the first step to the last."""
    measured: list[tuple[int, int]] = [(s.connections, getattr(s, f"{side}_rss")) for s in steps
                                       if getattr(s, f"{side}_rss") is not None]
    if len(measured) < 2 or measured[-1][0] <= measured[0][0]:
        return None
    (c0, r0), (c1, r1) = measured[0], measured[-1]
    return round((r1 - r0) / (c1 - c0), 1)


def ceiling_row(ramp: RampResult) -> CeilingRow:
    """Sum one ramp up as a row of the ceiling table."""
    seconds = sum(s.seconds for s in ramp.steps)
    p99s = [s.p99_ms for s in ramp.steps if s.p99_ms is not None]
    cpu, reached, stop = ramp.server_cpu_seconds, ramp.reached, ramp.stop
    return CeilingRow(
        backend=ramp.config.backend.name,
        waits_with=ramp.predicted.selector,
        placement=ramp.config.placement,
        reached=reached,
        ok=ramp.ok,
        stop_reason=stop.reason if stop else None,
        stop_side=stop.side if stop else None,
        predicted=ramp.predicted.max_connections,
        binding_limit=ramp.predicted.binding_limit,
        connect_rate=round(reached / seconds, 1) if seconds > 0 and reached else None,
        client_rss_per_connection=_per_connection(ramp.steps, "client"),
        server_rss_per_connection=_per_connection(ramp.steps, "server"),
        server_cpu_us_per_connection=round(cpu * 1e6 / reached, 1) if cpu is not None and reached else None,
        p99_ms=max(p99s) if p99s else None,
        seconds=ramp.seconds,
    )


def _ramp_in_child(spec: RampSpec) -> tuple[RampResult, bool]:
    """Run one ramp in a fresh interpreter, so each backend's client memory is its own; (result, interrupted)."""
    child = start_command(python_command("netprobe.ramp.one"), f"the {spec.backend.name} ramp's process",
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    interrupted = False
    request: Optional[str] = spec.to_json() + "\n"
    while True:
        try:
            out, err = child.communicate(request)
            break
        except KeyboardInterrupt:
            # The child got the same signal and writes its partial result; wait for it.
            interrupted, request = True, None
    ended_with_a_result = (ExitStatus.SUCCESS, ExitStatus.LIMIT_HIT, ExitStatus.INTERRUPTED)
    if child.returncode not in ended_with_a_result or not out.strip():
        tail = (err.strip().splitlines() or [f"exit status {child.returncode}"])[-1]
        raise ChildFailed(f"the {spec.backend.name} ramp failed: {tail}")
    result = RampResult.from_json(out, f"the {spec.backend.name} ramp")
    return result, interrupted or child.returncode == ExitStatus.INTERRUPTED


def run_ceilings(specs: list[RampSpec], progress: Optional[Callable[[str], None]] = None) -> CeilingsResult:
    """Ramp each spec in turn, each in a fresh process with a fresh server; stop only when interrupted."""
    started = time.monotonic()
    ramps: list[RampResult] = []
    interrupted = False
    for spec in specs:
        if progress is not None:
            progress(spec.backend.name)
        ramp, interrupted = _ramp_in_child(spec)
        ramps.append(ramp)
        if interrupted:
            break
    return CeilingsResult(
        to=specs[0].to if specs else None,
        rows=[ceiling_row(r) for r in ramps],
        ramps=ramps,
        ok=not interrupted and len(ramps) == len(specs) and all(r.ok for r in ramps),
        interrupted=interrupted,
        platform=platform_info(),
        seconds=round(time.monotonic() - started, 3),
    )
