"""Pick the document layout for a result record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netprobe.render import bench_sections, sections

# Record class name -> its layout; by name, so rendering one kind imports no other record.
_LAYOUTS: dict[str, Callable[[Any], sections.Document]] = {
    "LimitsReport": sections.limits_document,
    "RampResult": sections.ramp_document,
    "CeilingsResult": sections.ceilings_document,
    "ReportResult": sections.report_document,
    "BenchSelectorsResult": bench_sections.bench_selectors_document,
    "BenchModelsResult": bench_sections.bench_models_document,
    "BenchEchoResult": bench_sections.bench_echo_document,
    "BenchTransferResult": bench_sections.bench_transfer_document,
}


def document_for(result: Any) -> sections.Document:
    """The document that lays ``result`` out, chosen by its record's name."""
    layout = _LAYOUTS.get(type(result).__name__)
    if layout is None:
        raise TypeError(f"no table layout for {type(result).__name__}")
    return layout(result)
