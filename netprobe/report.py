"""Merge `limits` and `ramp` JSON files from many machines into one side-by-side table."""

from __future__ import annotations

import json
import os
from typing import Any, Optional

from netprobe.errors import UsageError
from netprobe.models import LIMITS_SCHEMA, RAMP_SCHEMA, ReportColumn, ReportResult, ReportRow

SCHEMAS = (LIMITS_SCHEMA, RAMP_SCHEMA)

# Row label -> how to read it from a column's limits or ramp document.
_ROWS = (
    ("default selector", "limits", lambda d: d["selectors"]["default"]),
    ("select cap", "limits", lambda d: _select_cap(d)),
    ("soft fd limit", "limits", lambda d: d["fds"]["soft"]),
    ("hard fd limit", "limits", lambda d: d["fds"]["hard"]),
    ("ephemeral ports", "limits", lambda d: d["network"]["ephemeral_ports"]["count"]),
    ("predicted max (default selector, own process)", "limits", lambda d: _default_prediction(d, "max_connections")),
    ("binding limit", "limits", lambda d: _default_prediction(d, "binding_limit")),
    ("ramp target", "ramp", lambda d: d["target"]),
    ("ramp reached", "ramp", lambda d: d["reached"]),
    ("ramp ok", "ramp", lambda d: d["ok"]),
    ("stop reason", "ramp", lambda d: (d["stop"] or {}).get("reason")),
    ("stop side", "ramp", lambda d: (d["stop"] or {}).get("side")),
    ("ramp predicted", "ramp", lambda d: d["predicted"]["max_connections"]),
)


def _select_cap(limits: dict[str, Any]) -> Optional[str]:
    cap = limits["selectors"]["caps"].get("SelectSelector")
    if not cap or cap["limit"] is None:
        return None
    return f"{cap['limit']} ({'fd number' if cap['kind'] == 'fd_number' else 'sockets per list'})"


def _default_prediction(limits: dict[str, Any], field: str) -> Any:
    default = limits["selectors"]["default"]
    for p in limits["predicted"]:
        if p["selector"] == default and p["placement"] == "process":
            return p[field]
    return None


def load(path: str) -> dict[str, Any]:
    """Read one netprobe JSON file, refusing anything that is not a known schema."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema not in SCHEMAS:
        if isinstance(schema, str) and schema.startswith("netprobe."):
            raise UsageError(f"{path}: unknown schema {schema!r}; this netprobe reads {', '.join(SCHEMAS)}")
        raise UsageError(f"{path}: not a netprobe limits or ramp report (no known 'schema')")
    try:
        p = data["platform"]
        data["_column"] = f"{p['system']} {p['machine']} / Python {p['python']}"
    except (KeyError, TypeError):
        raise UsageError(f"{path}: {schema} without a 'platform' object") from None
    return data


def build_report(paths: list[str]) -> ReportResult:
    """One column per platform and Python; a ramp that fell short fails the report."""
    if not paths:
        raise UsageError("report needs at least one JSON file")
    columns: dict[str, dict[str, Any]] = {}
    for path in paths:
        data = load(path)
        kind = "limits" if data["schema"] == LIMITS_SCHEMA else "ramp"
        label = data["_column"]
        if kind in columns.get(label, {}):
            # A second file of the same kind from the same platform: its own column, named by file.
            label = f"{label} ({os.path.splitext(os.path.basename(path))[0]})"
        columns.setdefault(label, {})[kind] = data
        columns[label].setdefault("files", []).append(os.path.basename(path))

    ordered = sorted(columns)
    rows = []
    for name, kind, read in _ROWS:
        values = []
        for label in ordered:
            doc = columns[label].get(kind)
            try:
                values.append(None if doc is None else read(doc))
            except (KeyError, TypeError, IndexError):
                raise UsageError(f"{', '.join(columns[label]['files'])}: {kind} report lacks what "
                                 f"'{name}' needs") from None
        rows.append(ReportRow(name, values))
    short = [label for label in ordered if "ramp" in columns[label] and not columns[label]["ramp"]["ok"]]
    return ReportResult(
        columns=[ReportColumn(label, columns[label]["files"]) for label in ordered],
        rows=rows,
        ramps_short=short,
        ok=not short,
    )
