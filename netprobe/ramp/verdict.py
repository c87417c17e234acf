"""The one-sentence verdict of a ramp: the measurement checked against the prediction."""

from __future__ import annotations

from typing import Optional

from netprobe.models import Prediction
from netprobe.models.ramp import StopInfo
from netprobe.stops import StopReason
from netprobe.vocabulary import Placement

# |predicted - reached| within this many connections counts as "as predicted".
PREDICTION_SLACK = 8


def verdict(to: Optional[int], reached: int, stop: Optional[StopInfo], pred: Prediction, placement: str) -> str:
    """Say how far the ramp got against ``to``, and whether the stop was the one predicted."""
    predicted = "an unknown ceiling" if pred.max_connections is None else (
        f"{pred.max_connections:,} by {pred.binding_limit}")
    if stop is None:
        what = f"Reached {reached:,} connections" + ("" if to is None else f" (target {to:,})")
        return f"{what}; predicted ceiling {predicted}."
    head = f"Stopped at {reached:,} connections: {stop.reason} on the {stop.side} side"
    if stop.reason == StopReason.INTERRUPTED:
        return f"{head} (predicted ceiling {predicted})."
    if pred.max_connections is None:
        return f"{head}; no prediction to compare."
    gap = reached - pred.max_connections
    if stop.reason == pred.binding_limit and abs(gap) <= PREDICTION_SLACK:
        return f"{head}, as predicted ({predicted})."
    if stop.reason == pred.binding_limit:
        why = (" In one process, a batch's client sockets take fd numbers before the server accepts"
               " them, so the server meets the limit earlier than 2 fds per connection suggests."
               if placement == Placement.THREAD else " Other fds opened during the run moved the ceiling.")
        return f"{head}; predicted {predicted}, {abs(gap):,} {'fewer' if gap < 0 else 'more'}.{why}"
    return (f"{head}, before the predicted limit ({predicted}): something not in the prediction "
            "struck first; the remedy below applies to what did.")
