"""A rich progress bar for ramps on a terminal; never used when output is not a TTY."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from netprobe.models import RampStep
from netprobe.render import units

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID


# Below this many columns the line drops the fds and keeps the bar, the step and the count.
FULL_DETAIL_WIDTH = 100


class RampProgress:
    """Shows connections held, fds and latency while a ramp runs, within the terminal's width."""

    def __init__(self, console: Optional[Console] = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = console or Console(stderr=True)
        self._full = console.width >= FULL_DETAIL_WIDTH
        bar = BarColumn(bar_width=max(10, min(40, console.width // 5)))
        self._progress = Progress(
            TextColumn("ramp"), bar, MofNCompleteColumn(), TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(), console=console, transient=True,
        )
        self._task: Optional[TaskID] = None

    def __enter__(self) -> RampProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.__exit__(*exc)

    def refresh(self) -> None:
        """Draw the line now rather than at the next tick."""
        self._progress.refresh()

    def update(self, step: RampStep, total_steps: int) -> None:
        """Show the step just finished out of the plan's ``total``."""
        churn = step.traffic if step.traffic is not None and step.traffic.churn else None
        detail = f"{units.count(step.connections)} conns" if churn is None else f"{churn.asked_rate:,.0f} new/s"
        if self._full:
            detail += f", client fds {units.count(step.client_fds)}, server fds {units.count(step.server_fds)}"
        detail += f", p99 {units.ms(step.p99_ms if churn is None else churn.p99_ms)} ms"
        if self._task is None:
            self._task = self._progress.add_task("ramp", total=total_steps, detail=detail)
        self._progress.update(self._task, advance=1, detail=detail)
