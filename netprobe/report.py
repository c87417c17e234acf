"""Merge `limits` and `ramp` JSON files from many machines into one side-by-side table.

The report is a CI gate, so it must never pass over a short ramp: every file given is read
(the same file twice is refused), every ramp in them counts towards the exit status, two
files from the same platform and Python each keep a column of their own (named by path), and
a file whose fields are not of the contract's types is refused rather than guessed at.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from typing import Any, Optional

from netprobe.errors import UsageError
from netprobe.models import LIMITS_SCHEMA, RAMP_SCHEMA, ReportColumn, ReportResult, ReportRow

SCHEMAS = (LIMITS_SCHEMA, RAMP_SCHEMA)
# netprobe's own reports are a few hundred KiB at most (a ramp of 100,000 steps is ~30 MiB).
MAX_FILE_BYTES = 64 * 1024 * 1024

_INT = (int,)
_OPT_INT = (int, type(None))
_OPT_STR = (str, type(None))

# Row label -> how to read it from a column's limits or ramp document.
_ROWS: tuple[tuple[str, str, Callable[[dict[str, Any]], Any]], ...] = (
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

# (path of keys, allowed types) every document of a kind must satisfy before a row reads it.
_SHAPES: dict[str, tuple[tuple[tuple[str, ...], tuple[type, ...]], ...]] = {
    "ramp": (
        (("ok",), (bool,)), (("target",), _OPT_INT), (("reached",), _INT), (("stop",), (dict, type(None))),
        (("predicted",), (dict,)), (("predicted", "max_connections"), _OPT_INT),
    ),
    "limits": (
        (("selectors",), (dict,)), (("selectors", "default"), (str,)), (("selectors", "caps"), (dict,)),
        (("fds",), (dict,)), (("fds", "soft"), _OPT_INT), (("fds", "hard"), _OPT_INT),
        (("network",), (dict,)), (("network", "ephemeral_ports"), (dict,)),
        (("network", "ephemeral_ports", "count"), _OPT_INT), (("predicted",), (list,)),
    ),
}
_STOP_SHAPE = ((("reason",), (str,)), (("side",), (str,)))


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


def _read_bounded(path: str) -> bytes:
    """The bytes of a regular file of at most MAX_FILE_BYTES; anything else is refused before reading."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{path}: not a regular file (a device, FIFO or directory is not a report)")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB: not a netprobe report")
    return data


def _check_shape(path: str, doc: dict[str, Any], shape, where: str = "") -> None:
    for keys, types in shape:
        value: Any = doc
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                raise UsageError(f"{path}: {where}{'.'.join(keys)} is missing")
            value = value[key]
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            wanted = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise UsageError(f"{path}: {where}{'.'.join(keys)} must be {wanted}, got {json.dumps(value)[:40]}")


def load(path: str) -> dict[str, Any]:
    """Read one netprobe JSON file, refusing anything that is not a known schema of the right shape."""
    raw = _read_bounded(path)
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise UsageError(f"{path}: JSON nested too deeply to be a netprobe report") from None
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema not in SCHEMAS:
        if isinstance(schema, str) and schema.startswith("netprobe."):
            raise UsageError(f"{path}: unknown schema {schema[:60]!r}; this netprobe reads {', '.join(SCHEMAS)}")
        raise UsageError(f"{path}: not a netprobe limits or ramp report (no known 'schema')")
    p = data.get("platform")
    if not isinstance(p, dict) or not all(isinstance(p.get(k), str) for k in ("system", "machine", "python")):
        raise UsageError(f"{path}: {schema} without a 'platform' object of strings")
    kind = "limits" if schema == LIMITS_SCHEMA else "ramp"
    _check_shape(path, data, _SHAPES[kind])
    if kind == "ramp" and data["stop"] is not None:
        _check_shape(path, data["stop"], _STOP_SHAPE, "stop.")
    data["_kind"] = kind
    data["_column"] = f"{p['system']} {p['machine']} / Python {p['python']}"
    return data


def ramp_fell_short(ramp: dict[str, Any]) -> bool:
    """Whether a ramp document records a ramp that did not reach its target, whatever else it says."""
    target = ramp["target"]
    return not ramp["ok"] or (target is not None and ramp["reached"] < target)


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
    docs = [(path, load(path)) for path in paths]

    # Where one platform gave several files of one kind, each gets a column named by its path.
    crowded = {d["_column"] for _, d in docs
               if sum(1 for _, e in docs if e["_column"] == d["_column"] and e["_kind"] == d["_kind"]) > 1}
    columns: dict[str, dict[str, Any]] = {}
    for path, data in docs:
        label = data["_column"] + (f" ({path})" if data["_column"] in crowded else "")
        column = columns.setdefault(label, {"files": []})
        if data["_kind"] in column:  # a limits file and a ramp file of a crowded platform
            label = f"{data['_column']} ({path})"
            column = columns.setdefault(label, {"files": []})
        column[data["_kind"]] = data
        column["files"].append(path)

    ordered = sorted(columns)
    rows = []
    for name, kind, read in _ROWS:
        values = []
        for label in ordered:
            doc = columns[label].get(kind)
            try:
                values.append(None if doc is None else read(doc))
            except (KeyError, TypeError, IndexError, AttributeError):
                raise UsageError(f"{', '.join(columns[label]['files'])}: {kind} report lacks what "
                                 f"'{name}' needs") from None
        rows.append(ReportRow(name, values))
    short = [label for label in ordered if "ramp" in columns[label] and ramp_fell_short(columns[label]["ramp"])]
    every_ramp_held = not any(ramp_fell_short(d) for _, d in docs if d["_kind"] == "ramp")
    return ReportResult(
        columns=[ReportColumn(label, columns[label]["files"]) for label in ordered],
        rows=rows,
        ramps_short=short,
        ok=every_ramp_held and not short,
    )
