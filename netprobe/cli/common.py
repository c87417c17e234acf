"""What every command shares: the app, its common options, the terminal it talks to, and delivery.

``deliver`` renders a result, writes it where the user asked, draws its plot, and returns the
exit status from the result's own ``ok`` and ``interrupted``: the one exit-status rule.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional, TextIO

import typer

from netprobe.errors import ExitStatus
from netprobe.extras import DISTRIBUTION
from netprobe.vocabulary import Format

app = typer.Typer(
    name="netprobe",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
bench_app = typer.Typer(help="Benchmarks on this machine: selectors' scan cost, concurrency models.",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")

# rich reads [words] in help text as markup; help strings escape their brackets with this.
PLOT_HELP = f"Also draw a PNG (needs: pip install '{DISTRIBUTION}\\[plot]')."
FORMAT_OPTION = typer.Option(Format.TABLE, "--format", "-f",
                             help=", ".join(f.value for f in Format) + " (markdown: GitHub-flavoured).")
OUTPUT_OPTION = typer.Option(None, "--output", "-o", help="Write the report to FILE instead of stdout.")
PLOT_OPTION = typer.Option(None, "--plot", help=PLOT_HELP)
WIDE_OPTION = typer.Option(False, "--wide", help="Keep every table line whole, however wide the terminal.")
SECRET_FILE_OPTION = typer.Option(
    None, "--secret-file",
    help="A distributed run's shared secret, one line in FILE (default: $NETPROBE_SECRET, else ~/.netprobe/secret).")


@dataclass
class Terminal:
    """The streams a command talks to, and what they are; tests replace it with ``use_terminal``."""

    stdout: TextIO
    stderr: TextIO

    @property
    def interactive(self) -> bool:
        """Whether stderr is a terminal a person watches (progress bars, live lines)."""
        return self.stderr.isatty()

    def width(self) -> Optional[int]:
        """The width tables are laid out in: $COLUMNS when set, else the terminal's; None when stdout is no terminal.

        A pipe or a file keeps every line whole unless $COLUMNS asks otherwise.
        """
        columns = os.environ.get("COLUMNS", "")
        if columns.isdigit() and int(columns) > 0:
            return int(columns)
        if not self.stdout.isatty():
            return None
        return shutil.get_terminal_size().columns

    def say(self, text: str) -> None:
        """One line to stderr: for the person, never part of the report."""
        self.stderr.write(text + "\n")
        self.stderr.flush()


_terminal: Optional[Terminal] = None


def terminal() -> Terminal:
    """The terminal of this run: the process's own streams unless a test replaced them."""
    return _terminal or Terminal(sys.stdout, sys.stderr)


def use_terminal(replacement: Optional[Terminal]) -> None:
    """Make ``replacement`` the terminal of later commands (None: the process's own streams)."""
    global _terminal
    _terminal = replacement


def announcer(command: str) -> Optional[Callable[[str], None]]:
    """What a long command says, on stderr, as each part starts, when a person watches it; else None."""
    if not terminal().interactive:
        return None
    return lambda what: terminal().say(f"netprobe {command}: {what}")


def check_destinations(output: Optional[str], plot: Optional[str] = None) -> None:
    """Check ``--output`` and ``--plot`` before any work, so a bad name costs nothing."""
    from netprobe.output import check_writable

    check_writable(output)
    if plot is not None:
        from netprobe.plots import check_plot

        check_plot(plot, output)


def deliver(result: Any, fmt: Format, output: Optional[str], plot: Optional[str] = None,
            draw: Optional[Callable[[Any, str], None]] = None, wide: bool = False) -> int:
    """Render ``result``, write it where asked, draw its plot; return its exit status.

    Tables fit the terminal's width, unless ``wide`` or the report goes to a file (``--output``).
    """
    from netprobe.output import emit
    from netprobe.render import render

    width = None if wide or output is not None else terminal().width()
    emit(render(result, fmt.value, width), output)
    if plot and draw is not None:
        draw(result, plot)
    if getattr(result, "interrupted", False):
        return ExitStatus.INTERRUPTED
    return ExitStatus.SUCCESS if getattr(result, "ok", True) else ExitStatus.LIMIT_HIT
