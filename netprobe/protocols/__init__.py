"""What a server says back: echo, upper (the tutorial's select server) or file (get/put).

echo and upper are stateless: a function of the bytes received, so a server needs no object
per connection for them. file keeps a session per connection.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from netprobe.errors import UsageError

if TYPE_CHECKING:
    from netprobe.protocols.files import FileSession

PROTOCOLS = ("echo", "upper", "file")


@dataclass(frozen=True)
class Protocol:
    """What a server says back: a stateless reply function, or a session per connection for the file protocol."""

    name: str
    transform: Optional[Callable[[bytes], bytes]] = None  # stateless protocols
    root: Optional[str] = None
    max_file_size: int = 0

    @property
    def stateless(self) -> bool:
        """Whether every reply depends only on the bytes just received."""
        return self.transform is not None

    def reply(self, data: bytes) -> bytes:
        """What a stateless protocol answers to ``data``."""
        assert self.transform is not None, "a protocol with sessions has no stateless reply"
        return self.transform(data)

    def session(self) -> FileSession:
        """A new per-connection session (file protocol only)."""
        from netprobe.protocols.files import FileSession

        assert self.root is not None, "only the file protocol has sessions"
        return FileSession(self.root, self.max_file_size)


def _identity(data: bytes) -> bytes:
    return data


def _upper(data: bytes) -> bytes:
    return data.upper()


def _costly(transform: Callable[[bytes], bytes], cost: float) -> Callable[[bytes], bytes]:
    """``transform``, burning ``cost`` seconds of CPU before each reply (a server with work to do per request).

    The thread's own CPU clock measures the burn where it is fine-grained, so a server that is
    descheduled on a busy machine still spends the whole cost per reply; elsewhere (Windows ticks
    its thread clock in 15.6 ms) the wall clock does.
    """
    import time

    fine = time.get_clock_info("thread_time").resolution <= 1e-6
    clock = time.thread_time if fine else time.perf_counter

    def reply(data: bytes) -> bytes:
        until = clock() + cost
        while clock() < until:
            pass
        return transform(data)

    return reply


def make_protocol(name: str, root: Optional[str] = None, max_file_size: Optional[int] = None,
                  cost_us: int = 0) -> Protocol:
    """Build a protocol, checking its options; raise UsageError naming the problem.

    ``cost_us`` makes each reply of echo or upper burn that many microseconds of CPU first.
    """
    if cost_us < 0:
        raise UsageError(f"--cost-us must be 0 or more, got {cost_us}")
    if name in ("echo", "upper"):
        transform = _identity if name == "echo" else _upper
        return Protocol(name, _costly(transform, cost_us / 1e6) if cost_us else transform)
    if name != "file":
        raise UsageError(f"--protocol must be one of {', '.join(PROTOCOLS)}, got {name!r}")
    if cost_us:
        raise UsageError("--cost-us applies to --protocol echo or upper, not file")
    from netprobe.protocols.files import DEFAULT_MAX_FILE_SIZE

    if root is None:
        raise UsageError("--protocol file needs --root DIR")
    if not os.path.exists(root):
        raise UsageError(f"--root {root!r} does not exist")
    if not os.path.isdir(root):
        raise UsageError(f"--root {root!r} is not a directory")
    size = DEFAULT_MAX_FILE_SIZE if max_file_size is None else max_file_size
    if size <= 0:
        raise UsageError(f"--max-file-size must be greater than 0, got {size}")
    return Protocol("file", None, os.path.realpath(root), size)
