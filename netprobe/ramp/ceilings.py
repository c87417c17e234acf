"""``ramp --backend all``: ramp every backend available here in turn, and sum each up in one row.

The tutorial's question (select, selectors, threads, gevent, asyncio: which holds how many,
and what stops each?) answered with measurements: each backend gets the same plan and the
same client model, in a fresh process of its own with a fresh server, so no backend's
memory figures inherit another's heap.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any, Optional

from netprobe.errors import UsageError
from netprobe.hostinfo import platform_info
from netprobe.models import CeilingRow, CeilingsResult
from netprobe.ramp.config import RampConfig, validate
from netprobe.servers.registry import available_backends


def _per_connection(steps: list[dict[str, Any]], side: str) -> Optional[float]:
    """Bytes of RSS per connection held: the slope from the first step to the last."""
    key = f"{side}_rss"
    steps = [s for s in steps if s.get(key) is not None]
    if len(steps) < 2 or steps[-1]["connections"] <= steps[0]["connections"]:
        return None
    first, last = steps[0], steps[-1]
    return round((last[key] - first[key]) / (last["connections"] - first["connections"]), 1)


def ceiling_row(ramp: dict[str, Any]) -> CeilingRow:
    """Sum one ramp (its JSON document) up as a row of the ceiling table."""
    steps = ramp["steps"]
    seconds = sum(s["seconds"] for s in steps)
    p99s = [s["p99_ms"] for s in steps if s.get("p99_ms") is not None]
    cpu, reached, stop = ramp.get("server_cpu_seconds"), ramp["reached"], ramp.get("stop") or {}
    return CeilingRow(
        backend=str(ramp["config"]["backend"]),
        waits_with=ramp["predicted"]["selector"],
        placement=str(ramp["config"]["placement"]),
        reached=reached,
        ok=bool(ramp["ok"]),
        stop_reason=stop.get("reason"),
        stop_side=stop.get("side"),
        predicted=ramp["predicted"]["max_connections"],
        binding_limit=ramp["predicted"]["binding_limit"],
        connect_rate=round(reached / seconds, 1) if seconds > 0 and reached else None,
        client_rss_per_connection=_per_connection(steps, "client"),
        server_rss_per_connection=_per_connection(steps, "server"),
        server_cpu_us_per_connection=round(cpu * 1e6 / reached, 1) if cpu is not None and reached else None,
        p99_ms=max(p99s) if p99s else None,
        seconds=ramp["seconds"],
    )


def validate_all(template: RampConfig) -> list[RampConfig]:
    """One validated configuration per available backend; the options of one backend cannot apply to all."""
    if template.target is not None:
        raise UsageError("--backend all ramps netprobe's own servers; it cannot apply to --target")
    for option, given in (("--selector", template.selector), ("--loop", template.loop)):
        if given is not None:
            raise UsageError(f"{option} chooses for one backend; --backend all runs each with its default")
    return [validate(dataclasses.replace(template, backend=name, extra={})) for name in available_backends()]


def _ramp_in_child(cfg: RampConfig) -> tuple[Optional[dict[str, Any]], bool]:
    """Run one ramp in a fresh interpreter, so each backend's client memory is its own; (JSON, interrupted)."""
    child = subprocess.Popen([sys.executable, "-m", "netprobe.ramp.one"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    interrupted = False
    request = json.dumps(dataclasses.asdict(cfg))
    while True:
        try:
            out, err = child.communicate(request)
            break
        except KeyboardInterrupt:
            # The child got the same signal and writes its partial result; wait for it.
            interrupted, request = True, None  # type: ignore[assignment]
    if child.returncode not in (0, 1, 130) or not out.strip():
        tail = (err.strip().splitlines() or [f"exit status {child.returncode}"])[-1]
        raise UsageError(f"the {cfg.backend} ramp failed: {tail}")
    return json.loads(out), interrupted or child.returncode == 130


def run_ceilings(configs: list[RampConfig], progress: Optional[Callable[[str], None]] = None) -> CeilingsResult:
    """Ramp each configuration in turn, each in a fresh process with a fresh server; stop only when interrupted."""
    started = time.monotonic()
    ramps: list[dict[str, Any]] = []
    interrupted = False
    for cfg in configs:
        if progress is not None:
            progress(cfg.backend)
        ramp, interrupted = _ramp_in_child(cfg)
        if ramp is not None:
            ramps.append(ramp)
        if interrupted:
            break
    return CeilingsResult(
        target=configs[0].to if configs else None,
        rows=[ceiling_row(r) for r in ramps],
        ramps=ramps,
        ok=not interrupted and len(ramps) == len(configs) and all(r["ok"] for r in ramps),
        interrupted=interrupted,
        platform=platform_info(),
        seconds=round(time.monotonic() - started, 3),
    )
