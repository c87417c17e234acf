"""Merge `limits` and `ramp` JSON files from many machines into one side-by-side table.

The report is a CI gate, so it must never pass over a short ramp: every file given is read
(the same file twice is refused), every ramp in them counts towards the exit status, two
files from the same platform and Python each keep a column of their own (named by path), and
a file whose fields are not of the contract's types is refused rather than guessed at.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional, Union

from netprobe.errors import RecordError, UsageError
from netprobe.models import (
    CEILINGS_SCHEMA,
    LIMITS_SCHEMA,
    RAMP_SCHEMA,
    LimitsReport,
    RampTrace,
    ReportColumn,
    ReportResult,
    ReportRow,
)
from netprobe.models.ramp import CeilingsResult, RampResult
from netprobe.untrusted import read_regular_file

# What each schema is read as: the records that wrote it.
SCHEMAS: dict[str, type[Union[LimitsReport, RampResult, CeilingsResult]]] = {
    LIMITS_SCHEMA: LimitsReport, RAMP_SCHEMA: RampResult, CEILINGS_SCHEMA: CeilingsResult}
KINDS = {LIMITS_SCHEMA: "limits", RAMP_SCHEMA: "ramp", CEILINGS_SCHEMA: "ceilings"}
# netprobe's own reports are a few hundred KiB at most (a ramp of 100,000 steps is ~30 MiB).
MAX_FILE_BYTES = 64 * 1024 * 1024
# What one report reads in all, over every file it is given: bytes, and JSON values (counted
# before parsing as opening brackets plus commas: it is the values, not the bytes, that cost
# memory, 50-100 bytes each however short, so a list of 12.5 million short strings took 1 GB;
# a ramp of 100,000 steps holds about 2.5 million).
MAX_TOTAL_BYTES = MAX_FILE_BYTES
MAX_VALUES = 4_000_000


def _select_cap(limits: LimitsReport) -> Optional[str]:
    cap = limits.selectors.caps.get("SelectSelector")
    if cap is None or cap.limit is None:
        return None
    return f"{cap.limit} ({'fd number' if cap.kind == 'fd_number' else 'sockets per list'})"


def _default_prediction(limits: LimitsReport) -> Any:
    for p in limits.predicted:
        if p.selector == limits.selectors.default and p.placement == "process":
            return p
    return None


def _stop(ramp: RampResult, field: str) -> Optional[str]:
    return None if ramp.stop is None else str(getattr(ramp.stop, field))


# Row label -> the kind of document it reads, and how.
_LIMITS_ROWS: tuple[tuple[str, Callable[[LimitsReport], Any]], ...] = (
    ("default selector", lambda d: d.selectors.default),
    ("select cap", _select_cap),
    ("soft fd limit", lambda d: d.fds.soft),
    ("hard fd limit", lambda d: d.fds.hard),
    ("ephemeral ports", lambda d: d.network.ephemeral_ports.count),
    ("predicted max (default selector, own process)",
     lambda d: (p := _default_prediction(d)) and p.max_connections),
    ("binding limit", lambda d: (p := _default_prediction(d)) and p.binding_limit),
)
_RAMP_ROWS: tuple[tuple[str, Callable[[RampResult], Any]], ...] = (
    ("ramp target", lambda d: d.to),
    ("ramp reached", lambda d: d.reached),
    ("ramp ok", lambda d: d.ok),
    ("stop reason", lambda d: _stop(d, "reason")),
    ("stop side", lambda d: _stop(d, "side")),
    ("ramp predicted", lambda d: d.predicted.max_connections),
)


@dataclass(frozen=True)
class Loaded:
    """One file, read through the records of its schema."""

    path: str
    kind: str  # "limits", "ramp" or "ceilings"
    document: Union[LimitsReport, RampResult, CeilingsResult]

    @property
    def column(self) -> str:
        """The platform and Python that wrote it."""
        p = self.document.platform
        return f"{p.system} {p.machine} / Python {p.python}"

    def ramps(self) -> list[RampResult]:
        """Every ramp this file records."""
        if isinstance(self.document, RampResult):
            return [self.document]
        if isinstance(self.document, CeilingsResult):
            return list(self.document.ramps)
        return []


@dataclass
class ReadBudget:
    """What is left of one report's reading budget: the memory of its files adds up, file after file."""

    values: int = MAX_VALUES

    def spend(self, path: str, raw: bytes) -> None:
        """Take ``raw``'s JSON values out of the budget; UsageError, before parsing, if they do not fit.

        Every object, list and item is counted (an opening bracket, or a comma before an item), so
        a list of scalars costs what it will take, as a list of objects does.
        """
        values = raw.count(b"{") + raw.count(b"[") + raw.count(b",")
        if values > self.values:
            raise UsageError(f"{path}: more JSON values than a netprobe report holds "
                             f"({values:,}; report reads at most {MAX_VALUES:,} over all its files)")
        self.values -= values


def check_total_size(paths: list[str]) -> None:
    """Refuse files that add up to more than MAX_TOTAL_BYTES, before any is read."""
    total = 0
    for path in paths:
        try:
            total += os.stat(path).st_size
        except OSError:
            continue  # load() says what is wrong with it
    if total > MAX_TOTAL_BYTES:
        raise UsageError(f"the files add up to {total / 2**20:.0f} MiB: report reads at most "
                         f"{MAX_TOTAL_BYTES // 2**20} MiB over all its files")


def load(path: str, budget: Optional[ReadBudget] = None) -> Loaded:
    """Read one netprobe JSON file through the records of its schema; anything else is refused in one line."""
    raw = read_regular_file(path, MAX_FILE_BYTES, "report")
    (budget or ReadBudget()).spend(path, raw)
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    except ValueError as exc:  # an integer of more digits than Python converts (4,300 by default)
        raise UsageError(f"{path}: not a netprobe report ({exc})") from None
    except RecursionError:
        raise UsageError(f"{path}: JSON nested too deeply to be a netprobe report") from None
    schema = data.get("schema") if isinstance(data, dict) else None
    if not isinstance(schema, str) or schema not in SCHEMAS:
        if isinstance(schema, str) and schema.startswith("netprobe."):
            raise UsageError(f"{path}: unknown schema {schema[:60]!r}; this netprobe reads {', '.join(SCHEMAS)}")
        raise UsageError(f"{path}: not a netprobe limits or ramp report (no known 'schema')")
    try:
        document = SCHEMAS[schema].from_dict(data)
    except RecordError as exc:
        raise UsageError(f"{path}: {schema}: {exc}") from None
    except RecursionError:
        raise UsageError(f"{path}: JSON nested too deeply to be a netprobe report") from None
    return Loaded(path, KINDS[schema], document)


def ramp_fell_short(ramp: RampResult) -> bool:
    """Whether a ramp records a ramp that did not reach its target, whatever else it says."""
    return not ramp.ok or (ramp.to is not None and ramp.reached < ramp.to)


def _ceiling_rows(loaded: list[Loaded]) -> list[tuple[str, str, Callable[[Any], Any]]]:
    """One row per backend any ceilings file ramped: how far it got, and what stopped it."""
    backends: dict[str, None] = {}
    for item in loaded:
        if isinstance(item.document, CeilingsResult):
            backends.update(dict.fromkeys(r.backend for r in item.document.rows))

    def reader(backend: str) -> Callable[[CeilingsResult], Any]:
        def read(d: CeilingsResult) -> Any:
            row = next((r for r in d.rows if r.backend == backend), None)
            if row is None:
                return None
            return f"{row.reached:,} ({row.stop_reason or 'reached'})"
        return read

    return [(f"{backend} ceiling", "ceilings", reader(backend)) for backend in backends]


def _traces(label: str, items: list[Loaded]) -> list[RampTrace]:
    """Every ramp of a column, step by step, for the report's plots."""
    ramps = [r for item in items for r in item.ramps()]
    return [RampTrace(label if len(ramps) == 1 else f"{label}: {r.config.backend.name if r.config.backend else '?'}",
                      [s.connections for s in r.steps], [s.seconds for s in r.steps]) for r in ramps]


def distinct_tails(paths: list[str]) -> dict[str, str]:
    """Each path's shortest tail (its name, then its parent's name too, ...) that no other path ends with."""
    parts = {path: os.path.normpath(path).replace("\\", "/").split("/") for path in paths}
    tails: dict[str, str] = {}
    for path, mine in parts.items():
        for depth in range(1, len(mine) + 1):
            tail = mine[-depth:]
            if not any(other[-depth:] == tail for o, other in parts.items() if o != path) or depth == len(mine):
                tails[path] = "/".join(tail)
                break
    return tails


def build_report(paths: list[str]) -> ReportResult:
    """One column per platform and Python (per file, where one platform gave several); short ramps fail it."""
    if not paths:
        raise UsageError("report needs at least one JSON file")
    seen: dict[str, str] = {}
    for path in paths:
        real = os.path.realpath(path)
        if real in seen:
            raise UsageError(f"{path}: given twice (as {seen[real]!r} too); each file counts once")
        seen[real] = path
    check_total_size(paths)
    budget = ReadBudget()
    loaded = [load(path, budget) for path in paths]

    # Where one platform gave several files of one kind, each gets a column named by as much of its
    # path as tells it from the others (the Files section keeps the whole path).
    crowded = {d.column for d in loaded if sum(1 for e in loaded if e.column == d.column and e.kind == d.kind) > 1}
    tails = distinct_tails(paths)
    columns: dict[str, dict[str, Any]] = {}
    for item in loaded:
        label = item.column + (f" ({tails[item.path]})" if item.column in crowded else "")
        column = columns.setdefault(label, {"files": []})
        if item.kind in column:  # a limits file and a ramp file of a crowded platform
            label = f"{item.column} ({tails[item.path]})"
            column = columns.setdefault(label, {"files": []})
        column[item.kind] = item.document
        column["files"].append(item.path)
        column.setdefault("items", []).append(item)

    ordered = sorted(columns)
    row_readers: list[tuple[str, str, Callable[[Any], Any]]] = (
        [(name, "limits", read) for name, read in _LIMITS_ROWS] + [(name, "ramp", read) for name, read in _RAMP_ROWS]
        + _ceiling_rows(loaded))
    rows = []
    for name, kind, read in row_readers:
        values = [None if columns[label].get(kind) is None else read(columns[label][kind]) for label in ordered]
        rows.append(ReportRow(name, values))
    short = [label for label in ordered
             if any(ramp_fell_short(r) for item in columns[label]["items"] for r in item.ramps())]
    every_ramp_held = not any(ramp_fell_short(r) for item in loaded for r in item.ramps())
    return ReportResult(
        columns=[ReportColumn(label, columns[label]["files"], _traces(label, columns[label]["items"]))
                 for label in ordered],
        rows=rows,
        ramps_short=short,
        ok=every_ramp_held and not short,
    )
