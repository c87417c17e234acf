"""Every message of a distributed ramp, as typed records checked on arrival.

Between netprobe's CLI and the processes it starts, a message is one JSON line: the ``RampSpec``
to the master, a ``WorkerSpec`` to a worker, ``MasterEvent`` lines back. Between master and
workers, locust's custom messages carry a record's ``to_dict()`` under a ``Message`` word.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from netprobe.models.ramp import RampResult, WorkerFailure, WorkerSummary
from netprobe.records import Record
from netprobe.vocabulary import Verify

__all__ = ["HeldReport", "HoldOrder", "MasterEvent", "Refusal", "WorkerFailure", "WorkerSpec", "WorkerSummary"]


@dataclass(frozen=True)
class WorkerSpec(Record):
    """What one worker process needs: its master, its source addresses and its fd budget."""

    master: tuple[str, int]
    source_ips: list[str] = field(default_factory=list)
    fd_limit: Optional[int] = None
    wait: float = 30.0  # seconds to wait for the master
    allow_remote: bool = False


@dataclass(frozen=True)
class HoldOrder(Record):
    """Master to worker: hold ``goal`` connections to ``target`` at step ``step``."""

    step: int
    goal: int
    target: tuple[str, int]
    timeout: float
    verify: Verify
    probe: Optional[str] = None


@dataclass(frozen=True)
class HeldReport(Record):
    """Worker to master: what it holds after step ``step``, and its first failure."""

    step: int
    held: int
    latencies: list[float]
    failure: Optional[WorkerFailure]
    fds: Optional[int]
    rss: Optional[int]


@dataclass(frozen=True)
class Refusal(Record):
    """Master to worker: not this one, and why (another netprobe version)."""

    why: str


@dataclass(frozen=True)
class MasterEvent(Record):
    """One line from the master to the CLI: where it listens, its result, or why it could not run."""

    listening: Optional[str] = None
    result: Optional[RampResult] = None
    error: Optional[str] = None
    exit: Optional[int] = None
