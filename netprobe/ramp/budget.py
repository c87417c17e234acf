"""A ramp's fd budget: the client's soft limit raised (or set) for the run and restored, and the guards.

Linux stalls a multi-threaded process for ~15 ms each time its fd table grows, so the table is
grown once, up front. Guards stop an open-ended ramp before the machine itself runs short.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

from netprobe import platform
from netprobe.models import Note, SelectorCap
from netprobe.prediction import MEMORY_PER_CONNECTION
from netprobe.ramp.processes import CLIENT_FD_RESERVE
from netprobe.ramp_spec import RampSpec
from netprobe.stops import StopReason

SYSTEM_FD_MARGIN = 0.02
MEMORY_MARGIN = 0.05
MEMORY_FLOOR = 256 * 1024 * 1024


class FdBudget:
    """This process's soft fd limit for one ramp: what it was, what the ramp set, and the notes saying so."""

    def __init__(self) -> None:
        self.soft, self.hard, _ = platform.fd_limits()
        self.restore_soft: Optional[int] = None
        self.notes: list[Note] = []

    def prepare_client(self, spec: RampSpec, goal: int) -> None:
        """Set ``--fd-limit`` in this process if it runs the server, else make room for ``goal`` connections."""
        if spec.in_process and spec.fd_limit is not None:
            platform.set_soft_fd_limit(spec.fd_limit)
            self.restore_soft = self.soft
            self.notes.append(Note("client.fd_limit", f"soft fd limit of this process set to {spec.fd_limit} "
                                                      f"(was {self.soft}); restored afterwards"))
            return
        if self.soft is None:
            return  # no RLIMIT_NOFILE here, or it is unlimited
        need = goal * (2 if spec.in_process else 1) + CLIENT_FD_RESERVE
        if self.soft >= need:
            platform.presize_fd_table(need)
            return
        new = platform.raise_soft_fd_limit(need)
        platform.presize_fd_table(need)
        if new is None or new > self.soft:
            self.restore_soft = self.soft
            self.notes.append(Note("client.fd_limit", f"raised the client's soft fd limit from {self.soft} "
                                                      f"to {new or 'unlimited'} for this run (restored afterwards)"))
        if new is not None and new < need:
            ceiling, binding = platform.fd_ceiling()
            self.notes.append(Note("client.fd_limit", f"the client's soft fd limit can rise to {ceiling}, bound by "
                                                      f"{binding}, below the {need} fds this ramp needs: the client "
                                                      "may meet its limit first"))

    def above_select_cap(self, cap: SelectorCap, goal: int) -> Optional[int]:
        """Make room for the client's fds above select()'s fd-number cap; return that floor, if it applies.

        In one process with a select() server, the client's own sockets would otherwise use up
        the fd numbers select() can watch, and the ramp would measure the co-location rather
        than the server. The soft fd limit still counts both ends of every connection.
        """
        if cap.kind != "fd_number" or cap.limit is None:
            return None
        need = cap.limit + goal + CLIENT_FD_RESERVE
        if self.soft is not None and self.soft < need:
            new = platform.raise_soft_fd_limit(need)
            if self.restore_soft is None and new != self.soft:
                self.restore_soft = self.soft
        self.notes.append(Note("client.fds", f"the client keeps its fds at {cap.limit} and above, out of the "
                                             "fd numbers the server's select() watches"))
        return cap.limit

    def restore(self) -> None:
        """Put back the soft limit this process had before the ramp."""
        if self.restore_soft is not None:
            platform.set_soft_fd_limit(self.restore_soft)


def guard(facts_reader: Callable[[], platform.SystemFacts], new: int) -> Optional[tuple[StopReason, str]]:
    """Stop before the system file table or free memory run dangerously low; (reason, why) or None."""
    import psutil

    facts = facts_reader()
    if facts.system_max is not None and facts.system_in_use is not None:
        free = facts.system_max - facts.system_in_use - 2 * new
        if free < facts.system_max * SYSTEM_FD_MARGIN:
            return StopReason.SYSTEM_FD_LIMIT, (f"guard: {new:,} more connections would leave under "
                                                f"{SYSTEM_FD_MARGIN:.0%} of the system file table free")
    vm = psutil.virtual_memory()
    if vm.available - new * MEMORY_PER_CONNECTION < max(MEMORY_FLOOR, vm.total * MEMORY_MARGIN):
        return StopReason.MEMORY, (f"guard: {new:,} more connections would leave under "
                                   f"{MEMORY_MARGIN:.0%} of memory available")
    return None
