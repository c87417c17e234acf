"""The one interface the ramp's engine drives: a way to hold connections, wherever they are held.

Three holders implement it: a client model in this process (``netprobe.clients.base.Client``),
the same model spread over child processes of this machine (``netprobe.clients.spread``), and
the workers of a distributed ramp (``netprobe.distributed.pool``). The engine
(``netprobe.ramp.runner``) runs one step loop, one stop naming and one result over any of them;
nothing else differs between a local, a spread and a distributed ramp.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional

from netprobe.clients.outcome import BatchOutcome

if TYPE_CHECKING:
    from netprobe.clients.traffic import Tally, TrafficPlan
    from netprobe.clients.watch import Sweep
    from netprobe.common_records import Note
    from netprobe.models import Prediction
    from netprobe.models.ramp import WorkerSummary


class ConnectionHolder(ABC):
    """Holds a ramp's connections: opens more, checks them again, says what it holds, releases them."""

    #: Keep this holder's fds at or above this number (a select()-capped server shares the process).
    fd_floor: Optional[int] = None

    @property
    @abstractmethod
    def held(self) -> int:
        """Connections that passed their check and are still held."""

    @property
    def pids(self) -> list[int]:
        """Processes of this machine, beside this one, whose fds and memory are the client side's."""
        return []

    @abstractmethod
    def open(self, count: int, timeout: float, should_abort: Callable[[], bool]) -> BatchOutcome:
        """Open and check ``count`` more connections within ``timeout`` each."""

    def sample(self, count: int, exclude_newest: int) -> list[Any]:
        """Up to ``count`` older connections to check again; none where this process holds none."""
        return []

    def reverify(self, conns: list[Any], timeout: float) -> BatchOutcome:
        """Check ``conns`` (from ``sample``) again."""
        return BatchOutcome()

    @abstractmethod
    def sweep_until_quiet(self, grace: float, wait: Callable[[float], object], pause: float = 0.05) -> Sweep:
        """Drop what the server closed since its check, until it has said all it will within ``grace``."""

    def traffic(self, plan: TrafficPlan, tally: Tally) -> None:
        """Send ``plan``'s requests on every held connection and count what comes back into ``tally``."""
        raise NotImplementedError(f"{type(self).__name__} carries no traffic")

    def pump(self, server_step: Optional[Callable[[float], bool]]) -> None:  # noqa: B027 (optional hook)
        """Drive a server that runs inline in this thread between the holder's own events (optional)."""

    @abstractmethod
    def close(self) -> None:
        """Release every connection; whatever happened before."""

    # --- what a holder elsewhere (workers on other machines) tells instead of this machine

    def wait(self, seconds: float) -> None:
        """Let ``seconds`` pass while this holder keeps working (a holder on gevent yields to its hub)."""
        time.sleep(seconds)

    def interrupted(self) -> bool:
        """Whether the run was asked to stop by other means than a KeyboardInterrupt in this thread."""
        return False

    def usage(self) -> Optional[tuple[Optional[int], Optional[int]]]:
        """The client side's fds and RSS where its processes are not this machine's (None: sample them here)."""
        return None

    def endpoints(self) -> Optional[list[tuple[str, int]]]:
        """The local address of every held connection, where this process holds them; None elsewhere."""
        return None

    def prediction(self) -> Optional[Prediction]:
        """The ceiling this holder predicts for itself, where this machine's limits do not bind it."""
        return None

    def notes(self) -> list[Note]:
        """What the result should say about how the connections were held."""
        return []

    def worker_summaries(self) -> Optional[list[WorkerSummary]]:
        """A distributed ramp's workers, for the result; None for a ramp on this machine."""
        return None
