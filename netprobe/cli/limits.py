"""``netprobe limits``: what this machine and process can hold."""

from __future__ import annotations

from typing import Optional

from netprobe.cli.common import FORMAT_OPTION, OUTPUT_OPTION, WIDE_OPTION, app, check_destinations, deliver
from netprobe.vocabulary import Format


@app.command()
def limits(fmt: Format = FORMAT_OPTION, output: Optional[str] = OUTPUT_OPTION, wide: bool = WIDE_OPTION) -> int:
    """Report selectors, fd limits, ports and memory, and predict the connection ceiling.

    Example: netprobe limits --format markdown >> "$GITHUB_STEP_SUMMARY"
    """
    from netprobe.limits import collect_limits

    check_destinations(output)
    return deliver(collect_limits(), fmt, output, wide=wide)
