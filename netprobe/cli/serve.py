"""``netprobe serve``: one backend in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import typer

from netprobe.cli.choices import Backend, Selector
from netprobe.cli.common import app, terminal
from netprobe.errors import ExitStatus
from netprobe.vocabulary import ProtocolName

if TYPE_CHECKING:
    from netprobe.servers.spec import ServerSpec


@app.command()
def serve(
    backend: Backend = typer.Option("selectors", "--backend", help="The server's concurrency model."),
    protocol: ProtocolName = typer.Option(ProtocolName.ECHO, "--protocol", help="echo, upper or file (get/put)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback unless --allow-remote)."),
    port: int = typer.Option(0, "--port", help="Port to listen on; 0 picks a free one."),
    selector: Optional[Selector] = typer.Option(None, "--selector", help="Selector of the selectors backend."),
    loop: Optional[str] = typer.Option(
        None, "--loop", help="Event loop: asyncio (selector, proactor, uvloop) or gevent (libev, libuv)."),
    root: Optional[str] = typer.Option(None, "--root", help="Directory the file protocol serves."),
    max_file_size: Optional[int] = typer.Option(None, "--max-file-size", help="Largest upload, in bytes."),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Allow listening off loopback."),
    cost_us: int = typer.Option(0, "--cost-us", help="Microseconds of CPU each echo or upper reply burns first: a "
                                                     "server with work per request, to find its knee under "
                                                     "ramp --rate."),
    processes: int = typer.Option(1, "--processes",
                                  help="Run the server as N processes on one port, the kernel spreading the "
                                       "connections (Linux: SO_REUSEPORT); each has its own fd limit."),
) -> int:
    """Run a server backend until Ctrl-C or SIGTERM; the first line printed is its address.

    Examples: netprobe serve --backend gevent --protocol upper --port 9000;
    netprobe serve --processes 8 (one port, 8 processes: past one process's fd limit);
    netprobe serve --cost-us 2000 (2 ms of CPU per reply: about 500 replies a second on one core)
    """
    from netprobe.output import emit
    from netprobe.serve import build_serve_spec, live_line, serve_until_signalled, summary_line
    from netprobe.servers.group import check_processes
    from netprobe.sockets import format_address

    check_processes(processes)
    spec = build_serve_spec(backend.value, protocol, host, port, selector.value if selector else None, loop,
                            root, max_file_size, allow_remote, cost_us)
    if processes > 1:
        return _serve_group(spec, processes)
    server = spec.create()
    address = format_address(server.addresses[0]) + "\n"
    interactive = terminal().interactive
    final, seconds = serve_until_signalled(server, live_line if interactive else None,
                                           on_ready=lambda: emit(address, None))
    if interactive:
        terminal().stderr.write("\n")
    emit(summary_line(final, seconds), None)
    return ExitStatus.SUCCESS


def _serve_group(spec: ServerSpec, processes: int) -> int:
    """``serve --processes N``: the group in child processes, this process its controller."""
    from netprobe.output import emit
    from netprobe.serve import group_live_line, serve_group_until_signalled, summary_line
    from netprobe.servers.group import ServerGroup
    from netprobe.sockets import format_address

    group = ServerGroup(spec, processes)
    address = format_address(group.addresses[0]) + "\n"
    interactive = terminal().interactive
    final, seconds, spread, ended = serve_group_until_signalled(
        group, group_live_line(group) if interactive else None, on_ready=lambda: emit(address, None))
    if interactive:
        terminal().stderr.write("\n")
    living = processes - len(ended)
    emit(summary_line(final, seconds).rstrip("\n") + f" over {living} processes (accepted: {spread})\n", None)
    if ended:
        terminal().say(f"netprobe serve: {'; '.join(ended)}; the other {living} were stopped")
        return ExitStatus.RUN_FAILED
    return ExitStatus.SUCCESS
