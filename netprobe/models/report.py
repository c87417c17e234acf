"""Records of `netprobe report`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netprobe.models import REPORT_SCHEMA, Record


@dataclass(frozen=True)
class ReportColumn(Record):
    """One column of a report: a platform and Python, and the files that describe it."""

    label: str  # platform and Python
    files: list[str]


@dataclass(frozen=True)
class ReportRow(Record):
    """One fact across every column of a report."""

    name: str
    values: list[Any]  # one per column; None where that column has no such fact


@dataclass(frozen=True)
class ReportResult(Record):
    """Limits and ramps of many machines side by side."""

    columns: list[ReportColumn]
    rows: list[ReportRow]
    ramps_short: list[str]  # columns whose ramp did not reach its target
    ok: bool
    schema: str = REPORT_SCHEMA
