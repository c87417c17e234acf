"""What the whole machine holds: the limits all its processes share, and the one that binds first.

One process holds what its fd limit allows; a machine holds what its processes together do,
bounded by the system's file table, by the kernel memory each connection costs, and by the
ports of each source address. The kernel memory is measured, not guessed: ``limits`` opens a
known number of loopback connections, reads the kernel's slab memory before and after, and
keeps the figure per kernel release in the user's cache, so later runs cost nothing.
"""

from __future__ import annotations

import json
import math
import os
import socket
from dataclasses import dataclass
from typing import Optional

from netprobe import platform
from netprobe.models import MachineLimits
from netprobe.platform import SystemFacts
from netprobe.stops import StopReason

PAIRS = 1000  # loopback connections opened to measure the kernel's memory per connection
MIN_PAIRS = 200  # fewer, and the slab's own noise is of the order of the figure
FD_MARGIN = 64  # fds left to the process while it measures
CACHE_FILE = "kernel-memory.json"
CACHE_LIMIT = 4096  # bytes: the cache is one short JSON object
# What one loopback connection's kernel memory can be (both ends): two TCP sockets, each a
# struct tcp_sock of over 2 KiB with its inode and file, measured at 7.1 KiB here. A round below
# this saw another process free memory meanwhile (a CI run measured 974 B), and a cached figure
# outside it is not netprobe's.
MIN_BYTES, MAX_BYTES = 2048, 1 << 20
ROUNDS = 3  # measurements tried before the figure is unknown (the slab is shared with every process)
# Source addresses a loopback client can bind without configuring any: all of 127/8 where the
# OS routes it (Linux), less the network and broadcast addresses.
LOOPBACK_127_8 = 2**24 - 2


@dataclass(frozen=True)
class KernelMemory:
    """Kernel bytes one loopback connection costs (both ends), and how that was found."""

    per_connection: Optional[int]
    how: str


def _cache_path() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "netprobe", CACHE_FILE)


def cached_kernel_memory(release: str) -> Optional[KernelMemory]:
    """The kernel memory per connection measured earlier for kernel ``release``, or None (never measured here).

    The cache is read as untrusted, as any file netprobe did not just write: a regular file of at
    most ``CACHE_LIMIT`` bytes, its figures within what a measurement can give; anything else is
    measured again (and the cache rewritten).
    """
    from netprobe.errors import UsageError
    from netprobe.untrusted import parse_json, read_regular_file

    try:
        data = parse_json(read_regular_file(_cache_path(), CACHE_LIMIT, "the kernel-memory cache"))
    except (UsageError, ValueError):
        return None  # no cache, or not ours: measure again
    if not isinstance(data, dict) or data.get("kernel") != release:
        return None
    per_connection, pairs = data.get("bytes_per_connection"), data.get("connections")
    for value, low, high in ((per_connection, MIN_BYTES, MAX_BYTES), (pairs, MIN_PAIRS, PAIRS)):
        if type(value) is not int or not low <= value <= high:
            return None
    return KernelMemory(per_connection, f"measured over {pairs:,} loopback connections (cached for kernel {release})")


def _remember(release: str, per_connection: int, pairs: int) -> None:
    path = _cache_path()
    temp = f"{path}.{os.getpid()}"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temp, "w", encoding="utf-8") as f:
            json.dump({"kernel": release, "bytes_per_connection": per_connection, "connections": pairs}, f)
        os.replace(temp, path)
    except OSError:
        # A read-only home, or something not a file at the cache's name: measured again next time.
        try:
            os.remove(temp)
        except OSError:
            pass


def measure_kernel_memory(pairs: int) -> KernelMemory:
    """Open ``pairs`` loopback connections and read the kernel's slab memory before and after.

    The slab is the whole machine's: another process freeing or allocating meanwhile can hide the
    growth or swell it, so a round whose figure is not one a connection can cost is run again, up
    to ``ROUNDS`` times, before the figure is called unknown.
    """
    if pairs < 1:
        return KernelMemory(None, "no connections to measure it with")
    if platform.kernel_slab_bytes() is None:
        return KernelMemory(None, "this OS does not tell its kernel's slab memory")
    for _ in range(ROUNDS):
        try:
            grown = _slab_growth(pairs)
        except OSError as exc:
            return KernelMemory(None, f"could not open {pairs:,} loopback connections to measure it: {exc.strerror}")
        if grown is not None and MIN_BYTES <= grown // pairs <= MAX_BYTES:
            return KernelMemory(grown // pairs, f"measured over {pairs:,} loopback connections")
    return KernelMemory(None, f"the kernel's slab memory did not grow by what {pairs:,} loopback connections "
                              f"cost in {ROUNDS} rounds: other processes changed it meanwhile")


def _slab_growth(pairs: int) -> Optional[int]:
    """Bytes the kernel's slab grew while ``pairs`` loopback connections opened; None where it could not be read."""
    socks: list[socket.socket] = []
    listener = socket.socket()
    try:
        before = platform.kernel_slab_bytes()
        listener.bind(("127.0.0.1", 0))
        listener.listen(pairs)
        address = listener.getsockname()
        for _ in range(pairs):
            client = socket.create_connection(address, timeout=5)
            socks.append(client)
            socks.append(listener.accept()[0])
        after = platform.kernel_slab_bytes()
    finally:
        for sock in socks:
            try:  # RST, not FIN: no TIME_WAIT left behind by a measurement
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, platform.linger_zero())
            except OSError:
                pass
            sock.close()
        listener.close()
    return None if before is None or after is None else after - before


def kernel_memory(release: str, soft: Optional[int], fds_open: Optional[int]) -> KernelMemory:
    """The kernel memory per connection for this kernel: cached, else measured (and cached) within the fd budget."""
    cached = cached_kernel_memory(release)
    if cached is not None:
        return cached
    pairs = PAIRS
    if soft is not None:
        pairs = min(PAIRS, (soft - (fds_open or 0) - FD_MARGIN) // 2)
    if pairs < MIN_PAIRS:
        return KernelMemory(None, f"a soft fd limit of {soft} leaves too few fds to measure it "
                                  f"({MIN_PAIRS} connections need {2 * MIN_PAIRS + FD_MARGIN})")
    measured = measure_kernel_memory(pairs)
    if measured.per_connection is not None:
        _remember(release, measured.per_connection, pairs)
    return measured


def loopback_sources() -> int:
    """How many loopback addresses this OS lets a client connect from without configuring any."""
    return LOOPBACK_127_8 if platform.can_bind_loopback_aliases() else 1


def machine_limits(facts: SystemFacts, hard: Optional[int], memory_available: Optional[int],
                   kernel: KernelMemory, sources: int) -> MachineLimits:
    """The most loopback connections (both ends on this machine) the machine holds, and what binds it: pure."""
    caps: list[tuple[int, StopReason, str]] = []
    if facts.system_max is not None:
        free = facts.system_max - (facts.system_in_use or 0)
        caps.append((max(0, free) // 2, StopReason.SYSTEM_FD_LIMIT,
                     f"the system file table ({facts.system_max:,}, {facts.system_in_use or 0:,} in use) "
                     "over 2 fds per connection"))
    if memory_available is not None and kernel.per_connection:
        caps.append((memory_available // kernel.per_connection, StopReason.MEMORY,
                     f"available memory over {kernel.per_connection:,} kernel bytes per connection "
                     "(user memory of the programs at both ends comes on top)"))
    if facts.port_count is not None:
        caps.append((facts.port_count * sources, StopReason.PORT_EXHAUSTION,
                     f"{facts.port_count:,} ephemeral ports per source address, {sources:,} loopback "
                     "source address(es), to one listening port"))
    ceiling, binding, detail = min(caps) if caps else (None, None, "no machine-wide limit could be read")
    needed = math.ceil(2 * ceiling / hard) if ceiling is not None and hard else None
    return MachineLimits(
        hard_fds_per_process=hard, nr_open=facts.per_process_max, file_max=facts.system_max,
        files_in_use=facts.system_in_use, memory_available=memory_available,
        kernel_bytes_per_connection=kernel.per_connection, kernel_bytes_how=kernel.how,
        ports_per_source=facts.port_count, loopback_sources=sources,
        ceiling=ceiling, binding=binding.value if binding is not None else None,
        processes_needed=needed, detail=detail)
