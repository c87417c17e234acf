"""A rich progress bar for ramps on a terminal; never used when output is not a TTY."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from netprobe.models import RampStep
from netprobe.render import units

if TYPE_CHECKING:
    from rich.progress import TaskID


class RampProgress:
    """Shows connections held, fds and latency while a ramp runs."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("ramp"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(), console=Console(stderr=True), transient=True,
        )
        self._task: Optional[TaskID] = None

    def __enter__(self) -> RampProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.__exit__(*exc)

    def update(self, step: RampStep, total_steps: int) -> None:
        """Show the step just finished out of the plan's ``total``."""
        detail = (f"{units.count(step.connections)} conns, client fds {units.count(step.client_fds)}, "
                  f"server fds {units.count(step.server_fds)}, p99 {units.ms(step.p99_ms)} ms")
        if self._task is None:
            self._task = self._progress.add_task("ramp", total=total_steps, detail=detail)
        self._progress.update(self._task, advance=1, detail=detail)
