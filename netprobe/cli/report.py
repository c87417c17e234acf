"""``netprobe report``: limits and ramps of many machines side by side, as a CI gate."""

from __future__ import annotations

from typing import Optional

import typer

from netprobe.cli.common import FORMAT_OPTION, OUTPUT_OPTION, WIDE_OPTION, app, check_destinations, deliver
from netprobe.vocabulary import Format


@app.command()
def report(
    files: list[str] = typer.Argument(..., metavar="FILE...", help="limits and ramp JSON files, e.g. CI artifacts."),
    fmt: Format = FORMAT_OPTION,
    output: Optional[str] = OUTPUT_OPTION,
    wide: bool = WIDE_OPTION,
) -> int:
    """Put limits and ramp JSON files side by side: one column per platform and Python.

    Exit status 1 if any ramp fell short of its target, so a CI summary job can gate on it.

    Example: netprobe report artifacts/*.json --format markdown >> "$GITHUB_STEP_SUMMARY"
    """
    from netprobe.report import build_report

    check_destinations(output)
    return deliver(build_report(files), fmt, output, wide=wide)
