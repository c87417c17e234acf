"""Every message of a distributed ramp, as typed records checked on arrival.

Between netprobe's CLI and the processes it starts, a message is one JSON line on a pipe: a
``MasterInput`` (the ``RampSpec`` and the run's secret) to the master, then a ``LocalWorkerEnded``
for each local worker that ends, a ``WorkerSpec`` to a worker, ``MasterEvent`` lines back. A
step's order and report are the ``HoldOrder`` and ``HeldReport`` every holder elsewhere speaks
(``netprobe.clients.orders``). Between master and workers, locust's custom messages carry a
record's ``to_dict()`` under a ``Message`` word, sealed with the run's secret
(``netprobe.distributed.secret``) and checked, then decoded, on arrival.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from netprobe.clients.orders import HeldReport, HoldOrder
from netprobe.models.ramp import RampResult, WorkerFailure, WorkerSummary
from netprobe.ramp_spec import RampSpec
from netprobe.records import Record

__all__ = ["HeldReport", "HoldOrder", "LocalWorkerEnded", "MasterEvent", "MasterInput", "Progress", "WorkerRefused",
           "WorkerFailure", "WorkerSpec", "WorkerSummary"]


# Seconds a worker waits without its master's heartbeat (one a second) before it counts the master
# gone and closes its connections; the master, finding itself paused that long, blames no worker.
MASTER_SILENCE = 10.0
# Seconds between the master's heartbeats to the CLI, and how long the CLI waits without one before
# it ends a master that no longer runs (stopped, starved): longer than any pause it can report.
MASTER_HEARTBEAT = 2.0
MASTER_STALL = 60.0


@dataclass(frozen=True)
class WorkerSpec(Record):
    """What one worker process needs: its master, its source addresses and its fd budget."""

    master: tuple[str, int]
    source_ips: list[str] = field(default_factory=list)
    fd_limit: Optional[int] = None
    wait: float = 30.0  # seconds to wait for the master
    allow_remote: bool = False
    secret: str = field(default="", repr=False)  # the run's; never on a command line


@dataclass(frozen=True)
class MasterInput(Record):
    """What the master reads on stdin: the ramp, and the run's secret (kept out of the spec, which reports repeat)."""

    spec: RampSpec
    secret: str = field(repr=False)


@dataclass(frozen=True)
class LocalWorkerEnded(Record):
    """CLI to master, on the master's stdin after its input: a worker the CLI started has ended, and how."""

    pid: int
    how: str


@dataclass(frozen=True)
class Progress(Record):
    """Worker to master, while a step is under way: still working, and how far; the step's deadline moves on."""

    step: int
    held: int
    in_flight: int


@dataclass(frozen=True)
class WorkerRefused(Record):
    """Master to worker: not this one, and why (another netprobe version)."""

    why: str


@dataclass(frozen=True)
class MasterEvent(Record):
    """One line from the master to the CLI: where it listens, its result, or why it could not run."""

    listening: Optional[str] = None
    result: Optional[RampResult] = None
    error: Optional[str] = None
    exit: Optional[int] = None
    alive: bool = False  # a heartbeat: the master runs (one every MASTER_HEARTBEAT s)
