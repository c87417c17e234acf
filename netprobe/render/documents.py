"""Pick the document layout for a result record."""

from __future__ import annotations

from typing import Any

from netprobe.render import sections


def document_for(result: Any) -> sections.Document:
    from netprobe.models import (
        BenchEchoResult, BenchModelsResult, BenchSelectorsResult, BenchTransferResult, LimitsReport, RampResult,
        ReportResult,
    )

    if isinstance(result, LimitsReport):
        return sections.limits_document(result)
    if isinstance(result, RampResult):
        return sections.ramp_document(result)
    if isinstance(result, ReportResult):
        return sections.report_document(result)
    if isinstance(result, BenchSelectorsResult):
        return sections.bench_selectors_document(result)
    if isinstance(result, BenchModelsResult):
        return sections.bench_models_document(result)
    if isinstance(result, BenchEchoResult):
        return sections.bench_echo_document(result)
    if isinstance(result, BenchTransferResult):
        return sections.bench_transfer_document(result)
    raise TypeError(f"no table layout for {type(result).__name__}")
