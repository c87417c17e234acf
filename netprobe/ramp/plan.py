"""The ramp plan: how many connections to hold at each step. Pure arithmetic, no sockets."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Optional

DEFAULT_STEPS = 10
# Step size when ramping without a target, until the first limit.
OPEN_ENDED_STEP = 1000


@dataclass(frozen=True)
class RampPlan:
    """Step targets up to ``target`` (or ``maximum`` when there is none), ``step`` apart."""

    target: Optional[int]
    step: int
    maximum: int

    @classmethod
    def build(cls, target: Optional[int], step: Optional[int], maximum: int) -> RampPlan:
        """The plan of ``--to``, ``--step`` and ``--max``: about ten steps to the goal unless told."""
        if step is None:
            step = OPEN_ENDED_STEP if target is None else max(1, math.ceil(target / DEFAULT_STEPS))
        return cls(target, step, maximum)

    @property
    def goal(self) -> int:
        """The most connections the plan asks for."""
        return self.maximum if self.target is None else min(self.target, self.maximum)

    def __iter__(self) -> Iterator[int]:
        held = 0
        while held < self.goal:
            held = min(held + self.step, self.goal)
            yield held

    def __len__(self) -> int:
        return math.ceil(self.goal / self.step)
