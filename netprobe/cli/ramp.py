"""``netprobe ramp``: real connections step by step until the target or the first limit, and why it stopped.

The command builds one ``RampSpec`` and chooses where it runs: on this machine
(``netprobe.ramp.runner``), over workers (``netprobe.distributed``), or once per backend
(``--backend all``). The ramp package never imports the distributed one; the choice is made here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Optional

import typer

from netprobe.cli.choices import ClientModel, RampBackend, Selector
from netprobe.cli.common import (
    FORMAT_OPTION,
    OUTPUT_OPTION,
    PLOT_OPTION,
    SECRET_FILE_OPTION,
    WIDE_OPTION,
    app,
    check_destinations,
    deliver,
    terminal,
)
from netprobe.clients.traffic import DEFAULT_MAX_LATENCY_MS
from netprobe.errors import ExitStatus, UsageError
from netprobe.expect import Expectation
from netprobe.extras import DISTRIBUTION
from netprobe.probes import probe_choices
from netprobe.vocabulary import Format, Placement, Verify

if TYPE_CHECKING:
    from netprobe.models.ramp import RampResult, RampStep
    from netprobe.ramp_spec import RampSpec


@app.command()
def ramp(
    to: Optional[int] = typer.Option(
        None, "--to", help="Target number of concurrent connections: exit 0 when reached. Without it: ramp to the "
                           "first wall (exit 0 when one is found; a refused port is none)."),
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
    loop: Optional[str] = typer.Option(
        None, "--loop", help="Event loop: asyncio (selector, proactor, uvloop) or gevent (libev, libuv)."),
    placement: Placement = typer.Option(Placement.PROCESS, "--placement", "--server",
                                        help="Where netprobe's server runs: process (a child with its own fds) "
                                             "or thread (inside netprobe's process: 2 fds per connection)."),
    client: Optional[ClientModel] = typer.Option(
        None, "--client", help="Client model: how connections are opened and held (default nonblocking; "
                               "workers of --workers hold theirs with gevent)."),
    verify: Optional[Verify] = typer.Option(None, "--verify",
                                            help="echo (default) or connect (default with --target)."),
    probe: Optional[str] = typer.Option(None, "--probe",
                                        help="Check each connection with a request its server answers: "
                                             f"{probe_choices(with_requests=True)}."),
    target: Optional[str] = typer.Option(None, "--target", help="HOST:PORT of an external server to ramp against."),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Allow a --target off loopback."),
    workers: Optional[int] = typer.Option(None, "--workers",
                                          help="Ramp --target from N worker processes or machines (needs the dist "
                                               f"extra: pip install '{DISTRIBUTION}\\[dist]')."),
    spawn_local: bool = typer.Option(False, "--spawn-local", help="With --workers: start the workers on this machine."),
    master_bind: Optional[str] = typer.Option(None, "--master-bind",
                                              help="With --workers: HOST:PORT the master listens on (127.0.0.1:5557)."),
    worker_wait: float = typer.Option(60.0, "--worker-wait", help="With --workers: seconds to wait for them."),
    secret_file: Optional[str] = SECRET_FILE_OPTION,
    ports: int = typer.Option(1, "--ports", help="Listen on this many ports and spread clients over them."),
    processes: Optional[int] = typer.Option(None, "--processes",
                                            help="netprobe's server as N processes on one port (Linux); by "
                                                 "default as many as --to needs past one process's fd limit."),
    client_processes: Optional[int] = typer.Option(
        None, "--client-processes", help="netprobe's client as N processes on this machine, each holding a share "
                                         "of the connections and sending a share of the traffic: for a rate past "
                                         "one process's CPU (a knee named client_cpu); by default as many as --to "
                                         "needs past one process's fd limit."),
    source_ips: int = typer.Option(1, "--source-ips", help="Bind clients to 127.0.0.1..K (Linux)."),
    rate: Optional[float] = typer.Option(
        None, "--rate", help="Traffic: requests a second on every held connection, each step for --hold seconds "
                             "(2 by default): the echo, or the --probe's request. Latency counts from when each "
                             "request was due; a step whose p99 passes --max-latency, or that falls 5% short of "
                             "the rate, is the knee (stop latency_knee, with its cause)."),
    total_rate: Optional[float] = typer.Option(None, "--total-rate",
                                               help="Traffic: requests a second over all held connections together."),
    churn: Optional[int] = typer.Option(
        None, "--churn", help="Churn: open and close this many new connections a second at the last step (--step "
                              "steps the rate), each for one exchange and closed by the client first, each step for "
                              "--hold seconds (2 by default; at least the OS's TIME_WAIT, 60 s on Linux, to see "
                              "ports run out). Stops with port_exhaustion (cause time_wait) or the knee."),
    max_latency: float = typer.Option(DEFAULT_MAX_LATENCY_MS, "--max-latency",
                                      help="Milliseconds of p99 latency under traffic past which a step is the "
                                           "knee (a tenth of a second: where people notice a late reply)."),
    request: Optional[str] = typer.Option(None, "--request",
                                          help="Traffic: hex:BYTES to send instead of the check's request (a "
                                               "--probe hex: handshake is sent once); any reply counts."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    plot: Optional[str] = PLOT_OPTION,
    fmt: Format = FORMAT_OPTION,
    expect: Optional[str] = typer.Option(
        None, "--expect", help="What the ramp must end with for exit 0, as a CI gate: 'reached', or "
                               "REASON[@SIDE][:LOW-HIGH] (select_limit@server:1000-1023); missed: exit 1 and one line "
                               "on stderr saying what happened instead."),
    output: Optional[str] = OUTPUT_OPTION,
    wide: bool = WIDE_OPTION,
) -> int:
    """Open real TCP connections step by step until the target or the first limit, and say why it stopped.

    Exit status: 0 target reached (or, without --to, a limit found; with --expect, the expectation met),
    1 stopped short, 2 bad input, 130 interrupted (the partial report is still written).

    Examples: netprobe ramp --to 1000; netprobe ramp --selector select --to 2000;
    netprobe ramp --fd-limit 256 --to 1000; netprobe ramp --target 127.0.0.1:6379 --to 5000;
    netprobe ramp --backend all --to 5000 (one ceiling table: every backend, what stops each)
    """
    from netprobe.ramp.options import RampOptions

    expectation = Expectation.parse(expect) if expect is not None else None
    check_destinations(output, plot)
    options = RampOptions(
        to=to, step=step, hold=hold, timeout=timeout, fd_limit=fd_limit, max=maximum, backend=backend.value,
        selector=selector.value if selector else None, loop=loop, placement=placement,
        client=client.value if client else None, verify=verify, target=target, allow_remote=allow_remote,
        ports=ports, source_ips=source_ips,
        workers=workers, spawn_local=spawn_local, master_bind=master_bind, worker_wait=worker_wait, probe=probe,
        processes=processes, client_processes=client_processes, rate=rate, total_rate=total_rate,
        max_latency=max_latency, request=request, churn=churn,
    )
    if backend.value == "all":
        from netprobe.plots import plot_ceilings
        from netprobe.ramp.ceilings import run_ceilings
        from netprobe.ramp.options import build_ceiling_specs

        specs = build_ceiling_specs(options)
        announce = None if quiet or not terminal().interactive else _announce
        return deliver(run_ceilings(specs, progress=announce), fmt, output, plot, plot_ceilings, wide=wide)
    from netprobe.launch import run_spec
    from netprobe.plots import plot_ramp
    from netprobe.ramp.options import build_ramp_spec

    spec = build_ramp_spec(options)
    secret = _run_secret(spec, secret_file)
    with _progress(quiet, fmt, output) as update:
        result = run_spec(spec, update, secret)
    nothing = _nothing_listens(spec, result)
    if nothing is not None and fmt is Format.TABLE and output is None:
        terminal().say(f"netprobe: {nothing}")  # a whole report of zeros would bury the one fact
        status = int(ExitStatus.LIMIT_HIT)
    else:
        status = deliver(result, fmt, output, plot if result.steps else None, plot_ramp, wide=wide)
        if nothing is not None:
            terminal().say(f"netprobe: {nothing}")
    return status if expectation is None else _judge(expectation, result, status)


def _nothing_listens(spec: RampSpec, result: RampResult) -> Optional[str]:
    """One line for a --target that refused the very first connection; None for any other ramp."""
    from netprobe.sockets import format_address
    from netprobe.stops import StopReason

    stop = result.stop
    if spec.target_address is None or stop is None or stop.reason != StopReason.REFUSED or result.reached:
        return None
    return (f"nothing listens on {format_address(spec.target_address)}, or a firewall turns every connection "
            "away: the first was refused")


def _judge(expectation: Expectation, result: RampResult, status: int) -> int:
    """The exit status of a ramp held to ``--expect``: 0 if it met it, 1 and a line on stderr if not."""
    if status == ExitStatus.INTERRUPTED:
        return status
    stop = result.stop
    problem = expectation.check(result.ok, result.reached, str(stop.reason) if stop else None,
                                str(stop.side) if stop else None)
    if problem is None:
        return ExitStatus.SUCCESS
    terminal().say(f"netprobe: {problem}")
    return ExitStatus.LIMIT_HIT


def _run_secret(spec: RampSpec, secret_file: Optional[str]) -> Optional[str]:
    """The secret a distributed ramp's master and workers share; None for a ramp on this machine."""
    if not spec.distributed:
        if secret_file is not None:
            raise UsageError("--secret-file goes with --workers")
        return None
    from netprobe.distributed.secret import run_secret

    return run_secret(secret_file, spec.spawn_local)


def _announce(backend: str) -> None:
    terminal().say(f"netprobe: ramping the {backend} backend")


@contextmanager
def _progress(quiet: bool, fmt: Format, output: Optional[str]) -> Iterator[Optional[Callable[[RampStep, int], None]]]:
    """A progress bar's update function on a terminal (unless --quiet), else None."""
    if quiet or not terminal().interactive or (fmt is Format.JSON and output is None):
        yield None
        return
    from netprobe.progress import RampProgress

    with RampProgress() as bar:
        yield bar.update
