"""Records of `netprobe report`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netprobe.models import REPORT_SCHEMA, Record


@dataclass(frozen=True)
class RampTrace(Record):
    """One ramp of a report's column, step by step: what its plots draw."""

    label: str  # the column's, and the backend where one file holds several ramps
    connections: list[int]  # held after each step
    step_seconds: list[float]  # how long each step took


@dataclass(frozen=True)
class ReportColumn(Record):
    """One column of a report: a platform and Python, and the files that describe it."""

    label: str  # platform and Python
    files: list[str]
    ramps: list[RampTrace] = field(default_factory=list)


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
