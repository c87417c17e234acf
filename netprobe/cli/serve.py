"""``netprobe serve``: one backend in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

from typing import Optional

import typer

from netprobe.cli.common import Backend, Selector, app, terminal
from netprobe.errors import ExitStatus
from netprobe.vocabulary import ProtocolName


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
    from netprobe.output import emit
    from netprobe.serve import build_serve_spec, live_line, serve_until_signalled, summary_line
    from netprobe.sockets import format_address

    server = build_serve_spec(backend.value, protocol, host, port, selector.value if selector else None, loop,
                              root, max_file_size, allow_remote).create()
    address = format_address(server.addresses[0]) + "\n"
    interactive = terminal().interactive
    final, seconds = serve_until_signalled(server, live_line if interactive else None,
                                           on_ready=lambda: emit(address, None))
    if interactive:
        terminal().stderr.write("\n")
    emit(summary_line(final, seconds), None)
    return ExitStatus.SUCCESS
