"""Parsers of what other platforms' commands print: pure text in, numbers out, importable anywhere.

Kept apart from the OS modules so that macOS's ``sysctl`` and ``launchctl`` and Windows's
``netsh`` output are parsed and tested on any OS, on recorded real output (tests/data).
"""

from __future__ import annotations

import re
from typing import Optional

# --- Linux


def parse_sockstat(text: str) -> tuple[Optional[int], Optional[int]]:
    """Parse the ``TCP: inuse N ... mem M`` line of /proc/net/sockstat."""
    for line in text.splitlines():
        if line.startswith("TCP:"):
            words = line.split()[1:]
            pairs = dict(zip(words[::2], words[1::2]))
            inuse = int(pairs["inuse"]) if "inuse" in pairs else None
            mem = int(pairs["mem"]) if "mem" in pairs else None
            return inuse, mem
    return None, None


def parse_cpu_pressure(text: str) -> Optional[int]:
    """Microseconds in which some task waited for a CPU, from /proc/pressure/cpu's ``some ... total=N``; else None."""
    for line in text.splitlines():
        words = line.split()
        if words and words[0] == "some":
            pairs = dict(word.split("=", 1) for word in words[1:] if "=" in word)
            total = pairs.get("total", "")
            return int(total) if total.isdigit() else None
    return None


def parse_slabinfo(text: str) -> Optional[int]:
    """Bytes in the objects in use of every cache of /proc/slabinfo (version 2.1); None when it is not that table.

    Each cache's line starts ``name active_objs num_objs objsize``; the bytes in use are the sum of
    active_objs x objsize.
    """
    lines = text.splitlines()
    if not lines or not lines[0].startswith("slabinfo - version: 2."):
        return None
    total = 0
    for line in lines[1:]:
        if line.startswith("#"):
            continue
        words = line.split()
        if len(words) < 4 or not (words[1].isdigit() and words[3].isdigit()):
            return None
        total += int(words[1]) * int(words[3])
    return total


def parse_proc_netstat(text: str) -> dict[str, int]:
    """The ``TcpExt:`` counters of /proc/net/netstat (a line of names, then a line of values)."""
    lines = [line.split() for line in text.splitlines() if line.startswith("TcpExt:")]
    if len(lines) < 2:
        return {}
    return {name: int(value) for name, value in zip(lines[0][1:], lines[1][1:]) if value.lstrip("-").isdigit()}


# --- macOS


def parse_sysctl(text: str) -> dict[str, int]:
    """Parse ``sysctl NAME...`` output: ``name: value`` lines (older releases print ``name = value``)."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        for sep in (": ", " = "):
            if sep in line:
                name, _, value = line.partition(sep)
                try:
                    values[name.strip()] = int(value.strip())
                except ValueError:
                    pass
                break
    return values


def parse_launchctl_limit(text: str, resource: str = "maxfiles") -> tuple[Optional[int], Optional[int]]:
    """Parse ``launchctl limit [maxfiles]`` into (soft, hard) of ``resource``; ``unlimited`` is None.

    Each line is ``<tab>name soft hard``; ``launchctl limit`` without a name prints them all.
    """
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] == resource:
            return _limit_value(words[1]), _limit_value(words[2])
    return None, None


def _limit_value(word: str) -> Optional[int]:
    return None if word == "unlimited" else int(word) if word.isdigit() else None


# --- Windows


def parse_dynamicport(text: str) -> tuple[Optional[int], Optional[int]]:
    """Parse ``netsh int ipv4 show dynamicport tcp`` into (start port, number of ports).

    Reads the first two ``label : number`` lines so localized labels parse too.
    """
    numbers = [int(m) for m in re.findall(r":\s*(\d+)\s*$", text, flags=re.MULTILINE)]
    if len(numbers) < 2:
        return None, None
    return numbers[0], numbers[1]


_RANGE_LINE = re.compile(r"^\s*(\d+)\s+(\d+)\s*\*?\s*$")


def parse_excludedportrange(text: str) -> list[tuple[int, int]]:
    """Parse ``netsh int ipv4 show excludedportrange protocol=tcp`` into (first, last) port ranges.

    Only lines of two port numbers (an administered range ends in ``*``) count, so headers
    in any language, the dashes and the footnote are passed over.
    """
    ranges = []
    for line in text.splitlines():
        match = _RANGE_LINE.match(line)
        if match:
            first, last = int(match.group(1)), int(match.group(2))
            if 0 < first <= last <= 65535:
                ranges.append((first, last))
    return ranges


def excluded_in_range(low: int, high: int, excluded: list[tuple[int, int]]) -> int:
    """How many ports of ``low..high`` the ``excluded`` ranges take, counting overlaps once."""
    clipped = sorted((max(first, low), min(last, high)) for first, last in excluded if last >= low and first <= high)
    taken, end = 0, low - 1
    for first, last in clipped:
        first = max(first, end + 1)
        if last >= first:
            taken += last - first + 1
            end = last
    return taken


_WINERROR = re.compile(r"\[(?:WinError|Errno)\s+(\d+)\]")


def errno_from_message(text: str) -> Optional[int]:
    """The error code in a message where only the text survives: ``[WinError 10055] ...``, ``[Errno 24] ...``."""
    match = _WINERROR.search(text)
    return int(match.group(1)) if match else None
