"""Human-readable units for the table and markdown renderers."""

from __future__ import annotations

from typing import Optional

# ASCII, so a legacy code page, a byte-counting tool and a grep all read it as one character.
MISSING = "-"


def count(value: Optional[int]) -> str:
    """A count with thousands separators, or the missing mark for None."""
    return MISSING if value is None else f"{value:,}"


def size(value: Optional[int]) -> str:
    """Format a byte count in binary units: 15.2 MiB."""
    if value is None:
        return MISSING
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(amount) < 1024 or unit == "TiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


def ms(value: Optional[float]) -> str:
    """Milliseconds, or the missing mark for None."""
    return MISSING if value is None else f"{value:.2f}"


def percent(value: Optional[float]) -> str:
    """A percentage (of one core), or the missing mark for None."""
    return MISSING if value is None else f"{value:.0f}%"


def seconds(value: Optional[float]) -> str:
    """Seconds in a unit that reads well, or the missing mark for None."""
    return MISSING if value is None else f"{value:.2f} s"


def text(value: object) -> str:
    """Any value as text, or the missing mark for None."""
    return MISSING if value is None else str(value)
