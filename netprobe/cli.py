"""The command line: parse, call the core, render, and map errors to exit statuses.

Nothing here opens sockets or imports gevent; commands import their core lazily so
``netprobe --help`` and ``netprobe limits`` stay fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Optional, TypeAlias

import typer

from netprobe import __version__
from netprobe.clients.registry import client_names
from netprobe.errors import ExitStatus, NetprobeError
from netprobe.selector_catalog import SELECTOR_NAMES
from netprobe.servers.registry import backend_names
from netprobe.signals import interrupt_once, interrupted
from netprobe.vocabulary import Format, Placement, ProtocolName, StopReason, Verify, Word

# Typer vendors click privately in recent releases and depends on it in older ones;
# its public BadParameter derives from click's UsageError and ClickException either way.
_CLICK = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
ClickUsageError: Any = _CLICK["UsageError"]
ClickException: Any = _CLICK["ClickException"]


# Choices of the options, built from the registries that own them: a new backend or client
# model shows up here without an edit to this file.
if TYPE_CHECKING:  # type checkers cannot follow enums made at run time; they are Words
    Backend: TypeAlias = Word
    RampBackend: TypeAlias = Word
    ClientModel: TypeAlias = Word
    Selector: TypeAlias = Word
else:
    Selector = Word("Selector", [(name, name) for name in ("default", *SELECTOR_NAMES)])
    Backend = Word("Backend", [(name, name) for name in backend_names()])
    RampBackend = Word("RampBackend", [(name, name) for name in (*backend_names(), "all")])
    ClientModel = Word("ClientModel", [(name, name) for name in client_names()])
# rich reads [words] in help text as markup; help strings escape their brackets with this.
PLOT_HELP = "Also draw a PNG (needs: pip install 'netprobe\\[plot]')."


app = typer.Typer(
    name="netprobe",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

FORMAT_OPTION = typer.Option(Format.TABLE, "--format", "-f", help="table, json or markdown (GitHub-flavoured).")
OUTPUT_OPTION = typer.Option(None, "--output", "-o", help="Write the report to FILE instead of stdout.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"netprobe {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of errors."),
) -> None:
    """Socket diagnostics: what this machine can hold, where connections really break, and why.

    Examples:

      netprobe limits                      what this machine and process can hold

      netprobe ramp --to 1000              open 1000 real connections, step by step

      netprobe ramp --selector select      find where select() breaks
    """


@app.command()
def limits(fmt: Format = FORMAT_OPTION, output: Optional[str] = OUTPUT_OPTION) -> int:
    """Report selectors, fd limits, ports and memory, and predict the connection ceiling.

    Example: netprobe limits --format markdown >> "$GITHUB_STEP_SUMMARY"
    """
    from netprobe.limits import collect_limits
    from netprobe.output import check_writable, emit
    from netprobe.render import render

    check_writable(output)
    emit(render(collect_limits(), fmt.value), output)
    return ExitStatus.SUCCESS


@app.command()
def ramp(
    to: Optional[int] = typer.Option(None, "--to", help="Target number of concurrent connections."),
    step: Optional[int] = typer.Option(None, "--step", help="Connections added per step (default: ~10 steps)."),
    hold: float = typer.Option(0.0, "--hold", help="Seconds to hold each step before the next."),
    timeout: float = typer.Option(5.0, "--timeout", help="Seconds each verification may take."),
    fd_limit: Optional[int] = typer.Option(None, "--fd-limit",
                                           help="Soft fd limit for the server side, e.g. 256 as on macOS."),
    maximum: int = typer.Option(100_000, "--max", help="Safety ceiling when ramping without --to."),
    backend: RampBackend = typer.Option("selectors", "--backend",
                                        help="The server's concurrency model, or all: one ramp each, one table."),
    selector: Optional[Selector] = typer.Option(None, "--selector",
                                                help="The selectors backend's selector (default: DefaultSelector)."),
    loop: Optional[str] = typer.Option(None, "--loop", help="The asyncio backend's event loop."),
    placement: Placement = typer.Option(Placement.PROCESS, "--placement", "--server",
                                        help="Where netprobe's server runs: process (a child with its own fds) "
                                             "or thread (inside netprobe's process: 2 fds per connection)."),
    client: ClientModel = typer.Option("nonblocking", "--client",
                                       help="Client model: how connections are opened and held."),
    verify: Optional[Verify] = typer.Option(None, "--verify",
                                            help="echo (default) or connect (default with --target)."),
    target: Optional[str] = typer.Option(None, "--target", help="HOST:PORT of an external server to ramp against."),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Allow a --target off loopback."),
    workers: Optional[int] = typer.Option(None, "--workers",
                                          help="Ramp --target from N worker processes or machines (needs the dist "
                                               "extra: pip install 'netprobe\\[dist]')."),
    spawn_local: bool = typer.Option(False, "--spawn-local", help="With --workers: start the workers on this machine."),
    master_bind: Optional[str] = typer.Option(None, "--master-bind",
                                              help="With --workers: HOST:PORT the master listens on (127.0.0.1:5557)."),
    worker_wait: float = typer.Option(60.0, "--worker-wait", help="With --workers: seconds to wait for them."),
    ports: int = typer.Option(1, "--ports", help="Listen on this many ports and spread clients over them."),
    source_ips: int = typer.Option(1, "--source-ips", help="Bind clients to 127.0.0.1..K (Linux)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    plot: Optional[str] = typer.Option(None, "--plot", help=PLOT_HELP),
    fmt: Format = FORMAT_OPTION,
    output: Optional[str] = OUTPUT_OPTION,
) -> int:
    """Open real TCP connections step by step until the target or the first limit, and say why it stopped.

    Exit status: 0 target reached (or, without --to, a limit found), 1 stopped short, 2 bad input,
    130 interrupted (the partial report is still written).

    Examples: netprobe ramp --to 1000; netprobe ramp --selector select --to 2000;
    netprobe ramp --fd-limit 256 --to 1000; netprobe ramp --target 127.0.0.1:6379 --to 5000;
    netprobe ramp --backend all --to 5000 (one ceiling table: every backend, what stops each)
    """
    from netprobe.output import check_writable, emit
    from netprobe.plots import check_plot
    from netprobe.ramp import RampConfig, run_ramp, validate
    from netprobe.render import render

    check_writable(output)
    check_plot(plot)
    template = RampConfig(
        to=to, step=step, hold=hold, timeout=timeout, fd_limit=fd_limit, max=maximum,
        backend=backend.value, selector=selector.value if selector else None, loop=loop,
        placement=placement.value, client=client.value,
        verify=verify.value if verify else None, target=target, allow_remote=allow_remote,
        ports=ports, source_ips=source_ips, workers=workers, spawn_local=spawn_local, master_bind=master_bind,
        worker_wait=worker_wait,
    )
    if backend.value == "all":
        from netprobe.ramp.ceilings import run_ceilings, validate_all

        configs = validate_all(template)
        ceilings = run_ceilings(configs, progress=None if quiet or not sys.stderr.isatty() else _announce)
        emit(render(ceilings, fmt.value), output)
        if plot and ceilings.rows:
            from netprobe.plots import plot_ceilings

            plot_ceilings(ceilings, plot)
        if ceilings.interrupted:
            return ExitStatus.INTERRUPTED
        return ExitStatus.SUCCESS if ceilings.ok else ExitStatus.LIMIT_HIT
    cfg = validate(template)
    with _progress(quiet, fmt, output) as update:
        result = run_ramp(cfg, progress=update)
    emit(render(result, fmt.value), output)
    if plot and result.steps:
        from netprobe.plots import plot_ramp

        plot_ramp(result, plot)
    if result.stop is not None and result.stop.reason == StopReason.INTERRUPTED:
        return ExitStatus.INTERRUPTED
    return ExitStatus.SUCCESS if result.ok else ExitStatus.LIMIT_HIT


def _announce(backend: str) -> None:
    sys.stderr.write(f"netprobe: ramping the {backend} backend\n")


@contextmanager
def _progress(quiet: bool, fmt: Format, output: Optional[str]) -> Iterator[Optional[Callable]]:
    """A progress bar's update function on a terminal (unless --quiet), else None."""
    if quiet or not sys.stderr.isatty() or (fmt is Format.JSON and output is None):
        yield None
        return
    from netprobe.progress import RampProgress

    with RampProgress() as bar:
        yield bar.update


@app.command()
def report(
    files: list[str] = typer.Argument(..., help="limits and ramp JSON files, e.g. CI artifacts."),
    fmt: Format = FORMAT_OPTION,
    output: Optional[str] = OUTPUT_OPTION,
) -> int:
    """Put limits and ramp JSON files side by side: one column per platform and Python.

    Exit status 1 if any ramp fell short of its target, so a CI summary job can gate on it.

    Example: netprobe report artifacts/*.json --format markdown >> "$GITHUB_STEP_SUMMARY"
    """
    from netprobe.output import check_writable, emit
    from netprobe.render import render
    from netprobe.report import build_report

    check_writable(output)
    result = build_report(files)
    emit(render(result, fmt.value), output)
    return ExitStatus.SUCCESS if result.ok else ExitStatus.LIMIT_HIT


@app.command()
def serve(
    backend: Backend = typer.Option("selectors", "--backend", help="The server's concurrency model."),
    protocol: ProtocolName = typer.Option(ProtocolName.ECHO, "--protocol", help="echo, upper or file (get/put)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback unless --allow-remote)."),
    port: int = typer.Option(0, "--port", help="Port to listen on; 0 picks a free one."),
    selector: Optional[Selector] = typer.Option(None, "--selector", help="Selector of the selectors backend."),
    loop: Optional[str] = typer.Option(None, "--loop", help="Event loop of the asyncio backend."),
    root: Optional[str] = typer.Option(None, "--root", help="Directory the file protocol serves."),
    max_file_size: Optional[int] = typer.Option(None, "--max-file-size", help="Largest upload, in bytes."),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Allow listening off loopback."),
) -> int:
    """Run a server backend until Ctrl-C or SIGTERM; the first line printed is its address.

    Example: netprobe serve --backend gevent --protocol upper --port 9000
    """
    from netprobe.serve import live_line, serve_until_signalled, start_server

    server = start_server(backend.value, protocol.value, host, port, selector.value if selector else None, loop,
                          root, max_file_size, allow_remote)
    from netprobe.output import emit

    host_, port_ = server.addresses[0]
    address = (f"{host_}:{port_}" if ":" not in host_ else f"[{host_}]:{port_}") + "\n"
    final, seconds = serve_until_signalled(server, live_line if sys.stderr.isatty() else None,
                                           on_ready=lambda: emit(address, None))
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    emit(f"served {final.accepted:,} connections in {seconds:.1f} s: "
         f"{final.bytes_in:,} bytes in, {final.bytes_out:,} out, {final.errors:,} errors"
         + (f"; limit met: {final.limit.reason} ({final.limit.message})" if final.limit else "") + "\n", None)
    return ExitStatus.SUCCESS


@app.command()
def worker(
    master: str = typer.Option(..., "--master", help="HOST:PORT of the master (`netprobe ramp --workers N`)."),
    source_ip: Optional[list[str]] = typer.Option(None, "--source-ip",
                                                  help="Bind connections to this source address (repeatable)."),
    fd_limit: Optional[int] = typer.Option(None, "--fd-limit", help="Soft fd limit of this worker."),
    wait: float = typer.Option(30.0, "--wait", help="Seconds to wait for the master before giving up."),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Allow a master off loopback."),
) -> int:
    """Hold a share of a distributed ramp's connections for a master (needs the dist extra).

    Exit status: 0 when the master ended the ramp, 1 no master answered within --wait, 2 bad input
    or a master of another netprobe version. Example: netprobe worker --master 10.0.0.5:5557 --allow-remote
    """
    import math
    import subprocess

    from netprobe import platform
    from netprobe.dist import LOCUST_ENV, check_available
    from netprobe.errors import UsageError
    from netprobe.sockets import check_destination, parse_host_port

    check_available()
    host, port = parse_host_port(master, "--master")
    check_destination(host, allow_remote, "--master")
    for ip in source_ip or []:
        check_destination(ip, allow_remote, "--source-ip")
    if not math.isfinite(wait) or wait <= 0:
        raise UsageError(f"--wait must be a finite number of seconds above 0, got {wait}")
    if fd_limit is not None:
        if fd_limit < 32:
            raise UsageError(f"--fd-limit {fd_limit} leaves the worker no fds to work with: give at least 32")
        try:
            platform.check_soft_fd_limit(fd_limit)
        except platform.PlatformError as exc:
            raise UsageError(f"--fd-limit: {exc}") from None
    args = ["--master", master, "--wait", str(wait)] + [a for ip in source_ip or [] for a in ("--source-ip", ip)]
    if fd_limit is not None:
        args += ["--fd-limit", str(fd_limit)]
    if allow_remote:
        args.append("--allow-remote")
    import os

    # A process of its own: locust is imported there, never in netprobe's CLI process.
    proc = subprocess.Popen([sys.executable, "-m", "netprobe.dist.worker", *args], env={**os.environ, **LOCUST_ENV})
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()  # it ignores Ctrl-C (a master's local workers must); this is the user's own
        proc.wait()
        return ExitStatus.INTERRUPTED


bench_app = typer.Typer(help="Benchmarks on this machine: selectors' scan cost, concurrency models.",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")
PLOT_OPTION = typer.Option(None, "--plot", help=PLOT_HELP)


@bench_app.command("selectors")
def bench_selectors(
    fds: str = typer.Option("10,100,1000,5000", "--fds", help="Registered socket counts, comma-separated."),
    selector: Optional[list[str]] = typer.Option(None, "--selector", help="Only these selectors (repeatable)."),
    calls: int = typer.Option(200, "--calls", help="select() calls timed per cell."),
    plot: Optional[str] = PLOT_OPTION,
    fmt: Format = FORMAT_OPTION,
    output: Optional[str] = OUTPUT_OPTION,
) -> int:
    """Time one select() call of each selector against N registered sockets: O(n) against O(1).

    Example: netprobe bench selectors --fds 10,100,1000,5000 --plot selectors.png
    """
    from netprobe.bench.selectors_bench import parse_fds, resolve_selectors, run_bench_selectors
    from netprobe.errors import UsageError
    from netprobe.output import check_writable, emit
    from netprobe.plots import check_plot
    from netprobe.render import render

    counts = parse_fds(fds)
    if calls <= 0:
        raise UsageError(f"--calls must be greater than 0, got {calls}")
    names = resolve_selectors(selector)
    check_writable(output)
    check_plot(plot)
    result = run_bench_selectors(counts, names, calls)
    emit(render(result, fmt.value), output)
    if plot:
        from netprobe.plots import plot_bench_selectors

        plot_bench_selectors(result, plot)
    return ExitStatus.SUCCESS


@bench_app.command("models")
def bench_models(
    tasks: int = typer.Option(3, "--tasks", help="URLs to fetch."),
    delay: float = typer.Option(1.0, "--delay", help="Seconds the loopback server waits before answering."),
    models: str = typer.Option("sequential,threads,gevent,asyncio", "--models", help="Models to compare."),
    fmt: Format = FORMAT_OPTION,
    output: Optional[str] = OUTPUT_OPTION,
) -> int:
    """The tutorial's sync-versus-async experiment, on loopback: fetch slow URLs with each model.

    Example: netprobe bench models --tasks 3 --delay 1.0
    """
    from netprobe.bench.models_bench import parse_models, run_bench_models, validate
    from netprobe.output import check_writable, emit
    from netprobe.render import render

    names = parse_models(models)
    validate(tasks, delay)
    check_writable(output)
    result = run_bench_models(tasks, delay, names)
    emit(render(result, fmt.value), output)
    return ExitStatus.SUCCESS if all(r.error is None for r in result.runs) else ExitStatus.LIMIT_HIT


@bench_app.command("echo")
def bench_echo(
    backend: str = typer.Option("selectors", "--backend", help="One or several (comma-separated) or all."),
    clients: int = typer.Option(100, "--clients", help="Concurrent connections."),
    size: int = typer.Option(1024, "--size", help="Bytes per message."),
    duration: float = typer.Option(5.0, "--duration", help="Seconds of load per backend."),
    client: ClientModel = typer.Option("nonblocking", "--client", help="Load client model."),
    plot: Optional[str] = PLOT_OPTION,
    fmt: Format = FORMAT_OPTION,
    output: Optional[str] = OUTPUT_OPTION,
) -> int:
    """Every backend under the same echo load: round trips/s, latency, CPU and memory per connection.

    Example: netprobe bench echo --backend all --clients 100 --duration 5
    """
    from netprobe.bench.echo_bench import run_bench_echo, validate
    from netprobe.output import check_writable, emit
    from netprobe.plots import check_plot
    from netprobe.render import render
    from netprobe.servers.registry import parse_backend_list

    names = parse_backend_list(backend)
    validate(clients, size, duration, client.value)
    check_writable(output)
    check_plot(plot)
    result = run_bench_echo(names, clients, size, duration, client.value)
    emit(render(result, fmt.value), output)
    if plot:
        from netprobe.plots import plot_bench_echo

        plot_bench_echo(result, plot)
    return ExitStatus.SUCCESS if all(r.error is None for r in result.runs) else ExitStatus.LIMIT_HIT


@bench_app.command("transfer")
def bench_transfer(
    backend: Backend = typer.Option("selectors", "--backend", help="The server's concurrency model."),
    clients: int = typer.Option(500, "--clients", help="Concurrent clients, each a get then a put."),
    file_size: int = typer.Option(256 * 1024, "--file-size", help="Bytes of the generated file."),
    file: Optional[str] = typer.Option(None, "--file", help="Serve this file instead of a generated one."),
    fmt: Format = FORMAT_OPTION,
    output: Optional[str] = OUTPUT_OPTION,
) -> int:
    """The tutorial's file scenario: many clients get a file and put it back, sha256 checked both ways.

    Exit status 1 if any transfer failed or arrived corrupt. Example: netprobe bench transfer --clients 500
    """
    from netprobe.bench.transfer_bench import run_bench_transfer
    from netprobe.output import check_writable, emit
    from netprobe.render import render

    check_writable(output)
    result = run_bench_transfer(backend.value, clients, file_size, file)
    emit(render(result, fmt.value), output)
    return ExitStatus.SUCCESS if result.failed == 0 and result.corrupt == 0 else ExitStatus.LIMIT_HIT


def _fail(message: str, status: ExitStatus) -> int:
    sys.stderr.write(f"netprobe: error: {message}\n")
    return int(status)


def run(argv: Optional[list[str]] = None) -> int:
    """Run the CLI and return its exit status; the one place errors become exit codes."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    command = typer.main.get_command(app)
    try:
        with interrupt_once():  # SIGTERM cleans up as Ctrl-C does; a second one cannot cut it short
            result = command.main(args=argv, prog_name="netprobe", standalone_mode=False)
    except ClickUsageError as exc:
        if debug:
            raise
        return _fail(exc.format_message().splitlines()[0] if exc.format_message() else str(exc),
                     ExitStatus.USAGE)
    except ClickException as exc:
        if debug:
            raise
        return _fail(exc.format_message(), ExitStatus.USAGE)
    except NetprobeError as exc:
        if debug:
            raise
        return _fail(str(exc), exc.exit_status)
    except (KeyboardInterrupt, typer.Abort):
        sys.stderr.write("netprobe: interrupted\n")
        return int(ExitStatus.INTERRUPTED)
    if interrupted():
        # Typer turns a KeyboardInterrupt into its own exit status 130 without a word; say it.
        sys.stderr.write("netprobe: interrupted\n")
        return int(ExitStatus.INTERRUPTED)
    return int(result or 0)


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
