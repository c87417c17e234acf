"""What a controller holds of a running server: its addresses, its counters, and how to stop it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Optional

from netprobe.common_records import SelectorCap
from netprobe.servers.status import ServerStatus
from netprobe.vocabulary import ServerKind


class ServerHandle(ABC):
    """A server a ramp or benchmark connects to: in a child process, in this process, or not netprobe's."""

    #: What this server is to netprobe (a child, a group of children, in this process, or not netprobe's).
    kind: ServerKind = ServerKind.EXTERNAL
    #: The server's process, where it has one of its own (sampled as the server side).
    pid: Optional[int] = None

    @property
    def pids(self) -> list[int]:
        """Every process of the server (one, several for a group, none for a server not netprobe's)."""
        return [self.pid] if self.pid is not None else []
    #: What to call it in a prediction ("redis-server"), where it is a program on this machine not netprobe's.
    name: Optional[str] = None
    #: Its process's soft fd limit, and what it was before the server raised it.
    soft_limit: Optional[int] = None
    raised_from: Optional[int] = None
    #: What its loop waits with ("SelectSelector" means select()'s caps apply), where known.
    waits_with: Optional[str] = None
    #: A cap of its loop's own on the sockets it watches, where it has one (``ServerBase.watch_cap``).
    watch_cap: Optional[SelectorCap] = None
    #: ``step(timeout)`` when the client must drive the server from its own thread, else None.
    step: Optional[Callable[[float], bool]] = None
    addresses: list[tuple[str, int]]

    def fd_ceiling(self) -> Optional[tuple[int, str]]:
        """For a server not netprobe's: the room its fd limits leave, and how it was counted; None elsewhere."""
        return None

    @abstractmethod
    def status(self) -> Optional[ServerStatus]:
        """Its counters, or None where netprobe cannot see them; raises ServerGone if it died."""

    @abstractmethod
    def close(self) -> None:
        """Stop it and release everything it holds."""
