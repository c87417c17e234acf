"""What a ramp must end with for a CI job to pass: reaching its target, or one named wall.

``reached`` (the ramp's own rule: its exit status 0) or ``REASON[@SIDE][:LOW-HIGH]``: it stopped
on REASON (a stop reason of ``netprobe.stops``), on SIDE if given, holding between LOW and HIGH
if given (``select_limit@server:1000-1023``). ``ramp --expect`` and the GitHub Action read the
same grammar; a job on any CI asks the ramp itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from netprobe.errors import UsageError
from netprobe.stops import StopReason
from netprobe.vocabulary import Side

GRAMMAR = "'reached' or REASON[@SIDE][:LOW-HIGH]"
_EXPECTATION = re.compile(r"^(?P<reason>[a-z_]+)(?:@(?P<side>[a-z]+))?(?::(?P<low>\d+)-(?P<high>\d+))?$")


@dataclass(frozen=True)
class Expectation:
    """What the ramp must end with: reaching --to, or a named stop on a side within a range."""

    reason: Optional[StopReason] = None  # None: the ramp must succeed by its own rule
    side: Optional[Side] = None
    low: Optional[int] = None
    high: Optional[int] = None

    @classmethod
    def parse(cls, text: str, option: str = "--expect") -> Expectation:
        """Read an expectation; UsageError names what is wrong with it."""
        text = text.strip()
        if text in ("", "reached"):
            return cls()
        match = _EXPECTATION.match(text)
        if match is None:
            raise UsageError(f"{option} {text!r} is not {GRAMMAR}")
        reason, side = match["reason"], match["side"]
        if reason not in StopReason.values():
            raise UsageError(f"{option}: {reason!r} is not a stop reason ({', '.join(StopReason.values())})")
        if side is not None and side not in Side.values():
            raise UsageError(f"{option}: side {side!r} is not one of {', '.join(Side.values())}")
        low = int(match["low"]) if match["low"] else None
        high = int(match["high"]) if match["high"] else None
        if low is not None and high is not None and low > high:
            raise UsageError(f"{option}: the range {low}-{high} is empty")
        return cls(StopReason(reason), Side(side) if side else None, low, high)

    def __str__(self) -> str:
        if self.reason is None:
            return "the target reached"
        where = f" on the {self.side} side" if self.side else ""
        held = f" holding {self.low}-{self.high}" if self.low is not None and self.high is not None else ""
        return f"a {self.reason} stop{where}{held}"

    def check(self, ok: bool, reached: int, reason: Optional[str], side: Optional[str]) -> Optional[str]:
        """None if the ramp met this expectation, else one line saying what it did instead."""
        got = f"reached {reached:,}" + (f", stopped by {reason} on the {side} side" if reason else "")
        if self.reason is None:
            return None if ok else f"expected {self}; {got}"
        met = (reason == self.reason and (self.side is None or side == self.side)
               and (self.low is None or self.high is None or self.low <= reached <= self.high))
        return None if met else f"expected {self}; {got}"
