"""Pick the document layout for a result record."""

from __future__ import annotations

from typing import Any

from netprobe.render import sections


def document_for(result: Any) -> sections.Document:
    from netprobe.models import LimitsReport, RampResult

    if isinstance(result, LimitsReport):
        return sections.limits_document(result)
    if isinstance(result, RampResult):
        return sections.ramp_document(result)
    layout = getattr(result, "document", None)
    if layout is None:
        raise TypeError(f"no table layout for {type(result).__name__}")
    return layout()
