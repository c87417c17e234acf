"""``netprobe worker``: hold a share of a distributed ramp's connections for its master."""

from __future__ import annotations

from typing import Optional

import typer

from netprobe.cli.common import SECRET_FILE_OPTION, app
from netprobe.errors import ExitStatus


@app.command()
def worker(
    master: str = typer.Option(..., "--master", help="HOST:PORT of the master (`netprobe ramp --workers N`)."),
    source_ip: Optional[list[str]] = typer.Option(None, "--source-ip",
                                                  help="Bind connections to this source address (repeatable)."),
    fd_limit: Optional[int] = typer.Option(None, "--fd-limit", help="Soft fd limit of this worker."),
    wait: float = typer.Option(30.0, "--wait", help="Seconds to wait for the master before giving up."),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Allow a master off loopback."),
    secret_file: Optional[str] = SECRET_FILE_OPTION,
) -> int:
    """Hold a share of a distributed ramp's connections for a master (needs the dist extra).

    Exit status: 0 when the master ended the ramp, 1 no master answered within --wait, 2 bad input
    or a master of another netprobe version. The run's secret comes from --secret-file, else
    $NETPROBE_SECRET, else ~/.netprobe/secret (the master's, copied). Example:
    netprobe worker --master 10.0.0.5:5557 --allow-remote --secret-file run.secret
    """
    from netprobe.distributed.controller import start_python
    from netprobe.distributed.spec import build_worker_spec

    spec = build_worker_spec(master, source_ip or [], fd_limit, wait, allow_remote, secret_file)
    # A process of its own: locust is imported there, never in netprobe's CLI process.
    proc = start_python("netprobe.distributed.worker", spec.to_json())
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()  # it ignores Ctrl-C (a master's local workers must); this is the user's own
        proc.wait()
        return ExitStatus.INTERRUPTED
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
