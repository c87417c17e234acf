"""The command line: parse, call the core, render, and map errors to exit statuses.

Nothing here opens sockets or imports gevent; commands import their core lazily so
``netprobe --help`` and ``netprobe limits`` stay fast.
"""

from __future__ import annotations

import enum
import sys
from typing import List, Optional

import typer

from netprobe import __version__
from netprobe.errors import ExitStatus, NetprobeError

# Typer vendors click privately in recent releases and depends on it in older ones;
# its public BadParameter derives from click's UsageError and ClickException either way.
_CLICK = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
ClickUsageError = _CLICK["UsageError"]
ClickException = _CLICK["ClickException"]


class Format(str, enum.Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


app = typer.Typer(
    name="netprobe",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

FORMAT_OPTION = typer.Option(Format.table, "--format", "-f", help="table, json or markdown (GitHub-flavoured).")
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


def _fail(message: str, status: ExitStatus) -> int:
    sys.stderr.write(f"netprobe: error: {message}\n")
    return int(status)


def run(argv: Optional[List[str]] = None) -> int:
    """Run the CLI and return its exit status; the one place errors become exit codes."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    command = typer.main.get_command(app)
    try:
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
    return int(result or 0)


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
