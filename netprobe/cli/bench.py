"""``netprobe bench``: selectors' scan cost, the concurrency models, and the backends under load."""

from __future__ import annotations

from typing import Optional

import typer

from netprobe.cli.choices import Backend, ClientModel
from netprobe.cli.common import (
    FORMAT_OPTION,
    OUTPUT_OPTION,
    PLOT_OPTION,
    WIDE_OPTION,
    announcer,
    bench_app,
    check_destinations,
    deliver,
)
from netprobe.vocabulary import Format


@bench_app.command("selectors")
def bench_selectors(
    fds: str = typer.Option("10,100,1000,5000", "--fds", help="Registered socket counts, comma-separated."),
    selector: Optional[list[str]] = typer.Option(None, "--selector", help="Only these selectors (repeatable)."),
    calls: int = typer.Option(200, "--calls", help="select() calls timed per cell."),
    plot: Optional[str] = PLOT_OPTION,
    fmt: Format = FORMAT_OPTION,
    output: Optional[str] = OUTPUT_OPTION,
    wide: bool = WIDE_OPTION,
) -> int:
    """Time one select() call of each selector against N registered sockets: O(n) against O(1).

    Example: netprobe bench selectors --fds 10,100,1000,5000 --plot selectors.png
    """
    from netprobe.bench.selectors_bench import parse_fds, resolve_selectors, run_bench_selectors
    from netprobe.errors import UsageError
    from netprobe.plots import plot_bench_selectors

    counts = parse_fds(fds)
    if calls <= 0:
        raise UsageError(f"--calls must be greater than 0, got {calls}")
    names = resolve_selectors(selector)
    check_destinations(output, plot)
    result = run_bench_selectors(counts, names, calls, announce=announcer("bench selectors"))
    return deliver(result, fmt, output, plot, plot_bench_selectors, wide=wide)


@bench_app.command("models")
def bench_models(
    tasks: int = typer.Option(3, "--tasks", help="URLs to fetch."),
    delay: float = typer.Option(1.0, "--delay", help="Seconds the loopback server waits before answering."),
    models: str = typer.Option("sequential,threads,gevent,asyncio", "--models", help="Models to compare."),
    fmt: Format = FORMAT_OPTION,
    output: Optional[str] = OUTPUT_OPTION,
    wide: bool = WIDE_OPTION,
) -> int:
    """The tutorial's sync-versus-async experiment, on loopback: fetch slow URLs with each model.

    Example: netprobe bench models --tasks 3 --delay 1.0
    """
    from netprobe.bench.models_bench import check_models_options, parse_models, run_bench_models

    names = parse_models(models)
    check_models_options(tasks, delay)
    check_destinations(output)
    return deliver(run_bench_models(tasks, delay, names, announce=announcer("bench models")), fmt, output, wide=wide)


@bench_app.command("echo")
def bench_echo(
    backend: str = typer.Option("selectors", "--backend", help="One or several (comma-separated) or all."),
    clients: int = typer.Option(100, "--clients", help="Concurrent connections."),
    size: int = typer.Option(1024, "--size", help="Bytes per message."),
    duration: float = typer.Option(5.0, "--duration", help="Seconds of load per backend."),
    client: ClientModel = typer.Option("nonblocking", "--client", help="Load client model."),
    target: Optional[str] = typer.Option(None, "--target", help="HOST:PORT of your own echo server instead."),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Allow a --target off loopback."),
    plot: Optional[str] = PLOT_OPTION,
    fmt: Format = FORMAT_OPTION,
    output: Optional[str] = OUTPUT_OPTION,
    wide: bool = WIDE_OPTION,
) -> int:
    """Every backend under the same echo load: round trips/s, latency, CPU and memory per connection.

    With --target, your own echo server under netprobe's load client (its CPU and memory are yours to read).
    Example: netprobe bench echo --backend all --clients 100 --duration 5
    """
    from netprobe.bench.echo_bench import check_echo_options, run_bench_echo
    from netprobe.errors import UsageError
    from netprobe.plots import plot_bench_echo
    from netprobe.servers.registry import parse_backend_list
    from netprobe.sockets import check_destination, parse_host_port

    address = None
    if target is not None:
        if backend != "selectors":
            raise UsageError("--backend chooses netprobe's own server; it cannot apply to --target")
        host, port = parse_host_port(target)
        address = (check_destination(host, allow_remote), port)
    backends = [] if address else parse_backend_list(backend)
    model = check_echo_options(clients, size, duration, client.value)
    check_destinations(output, plot)
    return deliver(run_bench_echo(backends, clients, size, duration, model, address,
                                  announce=announcer("bench echo")), fmt, output, plot,
                   plot_bench_echo, wide=wide)


@bench_app.command("transfer")
def bench_transfer(
    backend: Backend = typer.Option("selectors", "--backend", help="The server's concurrency model."),
    clients: int = typer.Option(500, "--clients", help="Concurrent clients, each a get then a put."),
    file_size: int = typer.Option(256 * 1024, "--file-size", help="Bytes of the generated file."),
    file: Optional[str] = typer.Option(None, "--file", help="Serve this file instead of a generated one."),
    fmt: Format = FORMAT_OPTION,
    output: Optional[str] = OUTPUT_OPTION,
    wide: bool = WIDE_OPTION,
) -> int:
    """The tutorial's file scenario: many clients get a file and put it back, sha256 checked both ways.

    Exit status 1 if any transfer failed or arrived corrupt. Example: netprobe bench transfer --clients 500
    """
    from netprobe.bench.transfer_bench import run_bench_transfer
    from netprobe.servers.registry import BACKENDS

    check_destinations(output)
    return deliver(run_bench_transfer(BACKENDS.get(backend.value), clients, file_size, file,
                                      announce=announcer("bench transfer")), fmt, output, wide=wide)
