"""Predict how many connections a server can hold, and which limit binds first.

Pure arithmetic on facts read elsewhere (``limits`` and the ramp read them once and pass a
``Budget``), so every platform's branch can be tested anywhere.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

from netprobe.models import Prediction, SelectorCap
from netprobe.platform import SystemFacts
from netprobe.selector_catalog import SELECTORS_WITH_FD
from netprobe.stops import StopReason
from netprobe.vocabulary import Placement

# A server child started by netprobe holds stdin, stdout and stderr before its listener.
SERVER_CHILD_STDIO_FDS = 3
# Kernel plus user memory of one loopback connection pair: ~7.7 KB of kernel slab was
# measured per pair on Linux; rounded up for netprobe's own bookkeeping on both ends.
MEMORY_PER_CONNECTION = 10 * 1024


@dataclass(frozen=True)
class Budget:
    """The limits every prediction on this machine starts from, read once."""

    soft: Optional[int]  # soft RLIMIT_NOFILE of the process that holds the connections
    system_free: Optional[int]  # free entries in the system file table
    ports_per_destination: Optional[int]  # ephemeral ports one source address has per destination
    memory_available: Optional[int]
    threads: Optional[tuple[int, str]] = None  # most threads one process can start, and what says so

    @classmethod
    def from_facts(cls, soft: Optional[int], facts: SystemFacts, memory_available: Optional[int]) -> Budget:
        """The budget of a process with soft fd limit ``soft`` on a system with ``facts``."""
        system_free = None
        if facts.system_max is not None and facts.system_in_use is not None:
            system_free = facts.system_max - facts.system_in_use
        return cls(soft, system_free, facts.port_count, memory_available, thread_budget(facts))

    def with_soft(self, soft: Optional[int]) -> Budget:
        """The same budget for a process with another soft fd limit."""
        return dataclasses.replace(self, soft=soft)


def thread_budget(facts: SystemFacts) -> Optional[tuple[int, str]]:
    """The most threads one process can start, by the tightest known limit (Linux), with its name."""
    known = []
    if facts.max_map_count is not None:
        known.append((facts.max_map_count // 2, f"vm.max_map_count {facts.max_map_count} (2 maps a thread stack)"))
    if facts.threads_max is not None:
        known.append((facts.threads_max, f"kernel.threads-max {facts.threads_max}"))
    return min(known) if known else None


@dataclass(frozen=True)
class CeilingInputs:
    """One server set-up to predict for: what caps its selector, and what it holds before connection one."""

    selector: str  # the selector class (or "target" for an external server)
    placement: str
    cap: SelectorCap
    budget: Budget
    reserved_fds: int
    destinations: int = 1  # server ports times source addresses
    listeners_in_range: int = 1  # listeners that took their port from the ephemeral range
    backend: Optional[str] = None
    #: The in-process client keeps its fds above select()'s cap, out of the server's fd numbers.
    client_fds_above_cap: bool = False
    #: A thread-per-connection server starts one thread for every connection.
    thread_per_connection: bool = False

    @property
    def fds_per_connection(self) -> int:
        """A server in netprobe's own process pays for the client's end of each connection too."""
        return 2 if self.placement == Placement.THREAD else 1

    @property
    def fd_numbers_per_connection(self) -> int:
        """How far each connection moves the highest fd number the server's select() must watch."""
        return 1 if self.client_fds_above_cap else self.fds_per_connection


#: Sockets an event loop watches for itself (libev's wake-up pair) out of a loop's cap.
LOOP_WAKEUP_SOCKETS = 2


def server_reserved_fds(selector: str, placement: str, process_fds: Optional[int], ports: int = 1) -> int:
    """Return the fds a server holds before its first connection.

    A child server holds stdio, its listeners and its selector's own fd; a server thread
    shares the controller's fds and the client's selector too.
    """
    own = ports + (1 if selector in SELECTORS_WITH_FD else 0)
    if placement == Placement.PROCESS:
        return SERVER_CHILD_STDIO_FDS + own
    return (process_fds or 0) + own + 1


def predict(inputs: CeilingInputs) -> Prediction:
    """Predict the concurrent loopback connections for one set-up, and the limit that binds."""
    per_conn = inputs.fds_per_connection
    reserved = inputs.reserved_fds
    cap, budget = inputs.cap, inputs.budget
    candidates: list[tuple[int, StopReason, str]] = []
    if cap.kind == "fd_number" and cap.limit is not None:
        numbers = inputs.fd_numbers_per_connection
        candidates.append((max(0, (cap.limit - reserved) // numbers), StopReason.SELECT_LIMIT,
                           f"select() refuses fd {cap.limit}+; {reserved} fds are taken before the "
                           f"first connection and each takes {numbers} fd number(s) below it"))
    elif cap.kind == "count" and cap.limit is not None:
        candidates.append((max(0, cap.limit - 1), StopReason.SELECT_LIMIT,
                           f"select() takes {cap.limit} sockets per list, one of them the listener"))
    elif cap.kind == "loop" and cap.limit is not None:
        # The listeners and the loop's wake-up pair (libev's evpipe, two sockets on Windows) take
        # slots before the first connection: 1,021 of 1,024 measured under the Windows interpreter.
        candidates.append((max(0, cap.limit - inputs.listeners_in_range - LOOP_WAKEUP_SOCKETS), StopReason.LOOP_LIMIT,
                           cap.detail))
    if budget.soft is not None:
        candidates.append((max(0, (budget.soft - reserved) // per_conn), StopReason.FD_LIMIT,
                           f"soft RLIMIT_NOFILE {budget.soft} less {reserved} fds in use at start, "
                           f"{per_conn} fd(s) per connection"))
    if budget.system_free is not None:
        candidates.append((max(0, budget.system_free // 2), StopReason.SYSTEM_FD_LIMIT,
                           f"{budget.system_free} free entries in the system file table, "
                           "2 per loopback connection"))
    if budget.ports_per_destination is not None:
        # A listener bound to port 0 takes its port from the same range, and connect() skips it.
        usable = max(0, budget.ports_per_destination - inputs.listeners_in_range)
        where = "one destination" if inputs.destinations == 1 else f"each of {inputs.destinations} destinations"
        candidates.append((usable * inputs.destinations, StopReason.PORT_EXHAUSTION,
                           f"{budget.ports_per_destination} ephemeral ports less {inputs.listeners_in_range} "
                           f"taken by listeners, per source address to {where}"))
    if inputs.thread_per_connection and budget.threads is not None:
        most, why = budget.threads
        candidates.append((most, StopReason.THREAD_LIMIT, f"one thread per connection; {why}"))
    if budget.memory_available is not None:
        candidates.append((budget.memory_available // MEMORY_PER_CONNECTION, StopReason.MEMORY,
                           f"available memory at ~{MEMORY_PER_CONNECTION // 1024} KiB per connection"))
    if not candidates:
        return Prediction(inputs.selector, inputs.placement, None, None, "no limit could be read", inputs.backend)
    n, binding, why = min(candidates, key=lambda c: c[0])
    return Prediction(inputs.selector, inputs.placement, n, binding, why, inputs.backend)
