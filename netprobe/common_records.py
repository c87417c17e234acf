"""The small records every layer shares: a note on a fact, a selector's cap, the platform a result came from.

They sit at the bottom of netprobe's layers (beside ``records`` and ``vocabulary``), so the
platform layer, the servers and the result records can all use them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from netprobe.records import Record


@dataclass(frozen=True)
class Note(Record):
    """Why a fact is missing or was adjusted."""

    field: str
    reason: str


@dataclass(frozen=True)
class PlatformInfo(Record):
    """The OS, machine and Python a result was measured on."""

    system: str
    release: str
    machine: str
    python: str
    implementation: str
    #: What stands in for the OS where netprobe can tell (``Wine 8.0``); None on the OS itself.
    compatibility_layer: Optional[str] = None


@dataclass(frozen=True)
class SelectorCap(Record):
    """What bounds one selector: an fd number, a count of sockets, or RLIMIT_NOFILE."""

    # "fd_number", "count" or "rlimit"; "loop" (an event loop's own count of sockets) only in a ramp
    kind: str
    limit: Optional[int]
    detail: str
