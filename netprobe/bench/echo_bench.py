"""``bench echo``: every backend under the same ping-pong load, each server and the client in processes of their own."""

from __future__ import annotations

import math
import subprocess
from typing import IO, TYPE_CHECKING, Optional

from netprobe.bench import Announce, say
from netprobe.bench.messages import EchoLoadReady, EchoLoadResult, EchoLoadSpec
from netprobe.children import ChildOrder, python_command, start_command
from netprobe.clients.registry import CLIENTS, ClientSpec
from netprobe.cpu import cpu_seconds
from netprobe.errors import RecordError, ServerGone, UsageError
from netprobe.hostinfo import platform_info
from netprobe.models import BenchEchoResult, EchoRun
from netprobe.records import R
from netprobe.servers.process import ChildServer
from netprobe.servers.registry import BackendSpec, ServerOptions
from netprobe.servers.spec import ServerSpec
from netprobe.sockets import format_address
from netprobe.vocabulary import ChildOp

if TYPE_CHECKING:
    pass

# A single-threaded load client above this share of a core is the bottleneck, not the server.
CLIENT_BOUND_CPU = 90.0
MAX_SIZE = 1024 * 1024
MAX_DURATION = 24 * 3600


def check_echo_options(clients: int, size: int, duration: float, client: str) -> ClientSpec:
    """Check ``bench echo``'s numbers and resolve its client model; UsageError names the first problem."""
    if clients <= 0:
        raise UsageError(f"--clients must be greater than 0, got {clients}")
    if not 0 < size <= MAX_SIZE:
        raise UsageError(f"--size must be 1-{MAX_SIZE} bytes, got {size}")
    if not math.isfinite(duration) or duration <= 0:
        raise UsageError(f"--duration must be a finite number of seconds above 0, got {duration}")
    if duration > MAX_DURATION:
        raise UsageError(f"--duration {duration:g} is above {MAX_DURATION} seconds")
    return CLIENTS.get(client)


def _line(proc: subprocess.Popen[str], timeout: float, record: type[R]) -> R:
    """The client's next line as ``record``, with a deadline (the client may die instead)."""
    import queue
    import threading

    assert proc.stdout is not None and proc.stderr is not None  # started with both piped
    stdout, stderr = proc.stdout, proc.stderr
    box: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: box.put(stdout.readline()), daemon=True)
    reader.start()
    try:
        line = box.get(timeout=timeout)
    except queue.Empty:
        raise RuntimeError(f"the load client did not answer within {timeout:.0f} s") from None
    if not line:
        err = stderr.read().strip().splitlines()
        raise RuntimeError(f"the load client exited: {err[-1] if err else proc.poll()}")
    return record.from_json(line, "the load client's answer")


def _close_quietly(stream: Optional[IO[str]]) -> None:
    if stream is None:
        return
    try:
        stream.close()
    except OSError:
        pass  # the other end is already gone


def _end_load(load: subprocess.Popen[str]) -> None:
    """Close the load's stdin (it closes its connections at its end), reap it, close its pipes."""
    _close_quietly(load.stdin)
    try:
        load.wait(30)
    except subprocess.TimeoutExpired:
        load.kill()
        load.wait()
    _close_quietly(load.stdout)
    _close_quietly(load.stderr)


def run_one(backend: Optional[BackendSpec], clients: int, size: int, duration: float, client: ClientSpec,
            options: Optional[ServerOptions] = None, server_command: Optional[list[str]] = None,
            target: Optional[tuple[str, int]] = None) -> EchoRun:
    """Measure one backend, or the echo server at ``target``; any failure becomes a row with its error.

    ``server_command`` runs another server speaking the child stdio protocol (benchmark baselines).
    A ``target`` is not netprobe's: its CPU and memory are not measured, only what the client sees.
    """
    import psutil

    label = format_address(target) if target is not None else (backend.name if backend else "?")
    server = None
    load = None
    try:
        sproc = None
        if target is None:
            assert backend is not None
            spec = ServerSpec(backend=backend, options=options or ServerOptions(), want_fds=clients + 64)
            server = ChildServer(spec, command=server_command)
            sproc = psutil.Process(server.pid)
            host, port = server.addresses[0]
        else:
            host, port = target
        rss_idle = sproc.memory_info().rss if sproc else None
        load = start_command(python_command("netprobe.bench.echo_client"), "the load process",
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=1)
        assert load.stdin is not None
        load.stdin.write(EchoLoadSpec(host, port, clients, size, duration, client.name).to_json() + "\n")
        load.stdin.flush()
        _line(load, 30, EchoLoadReady)
        rss_held = sproc.memory_info().rss if sproc else None
        cpu0 = cpu_seconds(sproc) if sproc else 0.0
        load.stdin.write(ChildOrder(ChildOp.GO).to_json() + "\n")
        load.stdin.flush()
        result = _line(load, duration + 60, EchoLoadResult)
        server_cpu = round(100.0 * (cpu_seconds(sproc) - cpu0) / result.seconds, 1) if sproc else None
        server_errors = server.status().errors if server is not None else 0
        rss_end = sproc.memory_info().rss if sproc else None
        rate = result.round_trips / result.seconds
        return EchoRun(
            backend=label,
            round_trips_per_s=round(rate, 1),
            mib_per_s=round(rate * size * 2 / (1024 * 1024), 2),  # each round trip carries size both ways
            p50_ms=result.p50, p90_ms=result.p90, p99_ms=result.p99, p999_ms=result.p999, max_ms=result.max,
            server_cpu=server_cpu,
            server_rss=rss_end,
            rss_per_connection=(round((rss_held - rss_idle) / clients, 1)
                                if rss_held is not None and rss_idle is not None else None),
            errors=result.errors + server_errors,
            client_cpu=result.client_cpu,
            client_bound=client.name != "threads" and result.client_cpu >= CLIENT_BOUND_CPU,
        )
    except (ServerGone, RuntimeError, UsageError, RecordError, OSError, ValueError, psutil.Error) as exc:
        return EchoRun(label, None, None, None, None, None, None, None, None, None, None, 0, None, False,
                       error=f"{type(exc).__name__}: {exc}")
    finally:
        if load is not None:
            _end_load(load)
        if server is not None:
            server.close()


def run_bench_echo(backends: list[BackendSpec], clients: int, size: int, duration: float,
                   client: ClientSpec, target: Optional[tuple[str, int]] = None,
                   announce: Optional[Announce] = None) -> BenchEchoResult:
    """Every backend in turn under the same echo load, each in a fresh server process; or the one at ``target``."""
    if target is not None:
        say(announce, f"echo load on {format_address(target)} for {duration:g} s")
        return BenchEchoResult(clients, size, duration, client.name,
                               [run_one(None, clients, size, duration, client, target=target)], platform_info())
    runs = []
    for i, backend in enumerate(backends, 1):
        say(announce, f"echo load on the {backend.name} backend ({i} of {len(backends)}, {duration:g} s)")
        runs.append(run_one(backend, clients, size, duration, client))
    return BenchEchoResult(clients, size, duration, client.name, runs, platform_info())
