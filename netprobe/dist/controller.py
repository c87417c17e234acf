"""``ramp --workers N``, seen from netprobe's CLI process: start the master (and local workers), relay.

locust stays in the processes started here; this module imports neither it nor gevent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from typing import IO, Any, Optional

from netprobe import platform
from netprobe.dist import LOCUST_ENV
from netprobe.errors import NetprobeError, UsageError
from netprobe.models import RampResult
from netprobe.ramp.config import RampConfig

WORKER_EXIT_WAIT = 10.0


class MasterFailed(NetprobeError):
    """The master could not run the ramp (no workers, a version mismatch, a port it cannot bind)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.exit_status = status  # type: ignore[assignment]


def _python(module: str, *args: str, stdin: Any = None, stdout: Any = None, stderr: Any = None) -> subprocess.Popen:
    env = {**os.environ, **LOCUST_ENV}
    return subprocess.Popen([sys.executable, "-m", module, *args], stdin=stdin, stdout=stdout, stderr=stderr,
                            text=True, env=env)


def _read_json_line(stream: IO[str]) -> Optional[dict[str, Any]]:
    line = stream.readline()
    return json.loads(line) if line.strip() else None


def local_source_ips(count: int) -> list[Optional[str]]:
    """127.0.0.1, .2, ... for local workers where the OS routes all of 127/8, else no source address."""
    if count > 1 and platform.can_bind_loopback_aliases():
        return [f"127.0.0.{i + 1}" for i in range(count)]
    return [None] * count


def run_distributed(cfg: RampConfig) -> RampResult:
    """Run a validated distributed ramp; never leaves the master or a local worker behind."""
    assert cfg.target_address is not None and cfg.workers is not None and cfg.master_address is not None
    request = {"target": cfg.target_address, "bind": cfg.master_address, "workers": cfg.workers, "to": cfg.to,
               "step": cfg.step, "max": cfg.max, "hold": cfg.hold, "timeout": cfg.timeout, "verify": cfg.verify,
               "wait": cfg.worker_wait}
    errors = tempfile.TemporaryFile(mode="w+")
    master = _python("netprobe.dist.master", stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors)
    workers: list[subprocess.Popen] = []
    try:
        assert master.stdin is not None and master.stdout is not None
        master.stdin.write(json.dumps(request) + "\n")
        master.stdin.flush()
        first = _read_json_line(master.stdout)
        if first is None or "error" in first:
            raise _failure(first, master, errors)
        bind = first["listening"]
        if cfg.spawn_local:
            for source in local_source_ips(cfg.workers):
                args = ["--master", bind, "--wait", str(cfg.worker_wait)]
                if source is not None:
                    args += ["--source-ip", source]
                workers.append(_python("netprobe.dist.worker", *args, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL))
        else:
            sys.stderr.write(f"netprobe: waiting for {cfg.workers} workers: netprobe worker --master {bind}\n")
        done = _wait_for_result(master)
        if done is None or "result" not in done:
            raise _failure(done, master, errors)
        return RampResult.from_dict(done["result"])
    finally:
        _reap(master, workers)
        errors.close()


def _wait_for_result(master: subprocess.Popen) -> Optional[dict[str, Any]]:
    """The master's last line; a Ctrl-C or SIGTERM here is passed on, and its partial result awaited."""
    assert master.stdout is not None
    while True:
        try:
            return _read_json_line(master.stdout)
        except KeyboardInterrupt:
            if master.poll() is None:
                master.send_signal(signal.SIGTERM)  # it tells the workers to close, then reports


def _failure(said: Optional[dict[str, Any]], master: subprocess.Popen, errors: IO[str]) -> NetprobeError:
    if said is not None and "error" in said:
        status = int(said.get("exit", 1))
        return UsageError(said["error"]) if status == 2 else MasterFailed(said["error"], status)
    master.wait(timeout=30)
    errors.seek(0)
    tail = (errors.read().strip().splitlines() or [f"exit status {master.returncode}"])[-1]
    return MasterFailed(f"the master failed: {tail}", 1)


def _reap(master: subprocess.Popen, workers: list[subprocess.Popen]) -> None:
    for proc in [master, *workers]:
        try:
            proc.wait(timeout=WORKER_EXIT_WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (master.stdin, master.stdout):
        if stream is not None:
            stream.close()
