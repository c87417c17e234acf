"""The command line: parse, call the core, render, and map errors to exit statuses.

One module per command group (``limits``, ``ramp``, ``report``, ``serve``, ``worker``,
``bench``); ``common`` holds the app, the shared options, the terminal and ``deliver``. Nothing
here opens sockets or imports gevent. A run imports only its own command's module, and commands
import their core lazily, so ``netprobe --help`` and ``netprobe limits`` stay fast.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any, Optional

import typer

from netprobe import __version__
from netprobe.cli import common
from netprobe.cli.common import terminal
from netprobe.errors import ExitStatus, NetprobeError
from netprobe.signals import exit_interrupted, exit_with, interrupt_once, interrupted, is_interrupt

__all__ = ["app", "main", "run"]

# The module of each command, in the order help lists them; each registers its commands on
# ``common.app`` when imported. A run imports only the module of the command it names, so
# ``netprobe limits`` neither imports the others nor has typer build their options.
COMMANDS = ("bench", "limits", "ramp", "report", "serve", "worker")


def load_commands(argv: Sequence[str] = ()) -> typer.Typer:
    """The app with the command ``argv`` names registered; every command where it names none it knows (help)."""
    # The root's own options are flags only, so the first word that is not an option is the command.
    named = next((word for word in argv if not word.startswith("-")), None)
    for module in [named] if named in COMMANDS else COMMANDS:
        importlib.import_module(f"netprobe.cli.{module}")
    return common.app


def __getattr__(name: str) -> Any:
    """``netprobe.cli.app``: the app with every command registered (for tests and tools that walk it)."""
    if name == "app":
        return load_commands()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# Typer vendors click privately in recent releases and depends on it in older ones;
# its public BadParameter derives from click's UsageError and ClickException either way.
_CLICK = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
ClickUsageError: Any = _CLICK["UsageError"]
ClickException: Any = _CLICK["ClickException"]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"netprobe {__version__}")
        raise typer.Exit()


@common.app.callback()
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


def _fail(message: str, status: ExitStatus) -> int:
    from netprobe.render.safe import safe_text

    # The message may quote what the user or a file gave: a control character is shown, not obeyed.
    terminal().say(f"netprobe: error: {safe_text(message)}")
    return int(status)


def run(argv: Optional[list[str]] = None) -> int:
    """Run the CLI and return its exit status; the one place errors become exit codes."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        with interrupt_once():  # SIGTERM cleans up as Ctrl-C does; a second one cannot cut it short
            # Ctrl-C while the command's modules load (seconds on a loaded machine) ends here too: nothing started.
            command = typer.main.get_command(load_commands(argv))
            if interrupted():  # its KeyboardInterrupt was lost in the import system (see signals._handler)
                raise KeyboardInterrupt
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
    except (KeyboardInterrupt, typer.Abort, RuntimeError) as exc:
        if isinstance(exc, RuntimeError) and not is_interrupt(exc):
            raise
        terminal().say("netprobe: interrupted")
        return int(ExitStatus.INTERRUPTED)
    if interrupted():
        # Typer turns a KeyboardInterrupt into its own exit status 130 without a word; say it.
        terminal().say("netprobe: interrupted")
        return int(ExitStatus.INTERRUPTED)
    return int(result or 0)


def main() -> None:
    """Console-script entry point: the process's own streams made to read right anywhere, then the CLI."""
    try:
        from netprobe.output import utf8_stdio

        utf8_stdio()
    except (KeyboardInterrupt, RuntimeError) as exc:  # Ctrl-C before the CLI runs: nothing started, nothing to report
        if not is_interrupt(exc):
            raise
        exit_interrupted()
    exit_with(run())
