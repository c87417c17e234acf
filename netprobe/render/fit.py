"""Lay a table out within a terminal's width: long text wraps, numbers stay whole, and a table too wide
for any wrapping goes on in a second table below that repeats its first column.

A cell of up to ``WHOLE`` characters (a count, a size, a short word) is never broken; a longer one wraps
at spaces, and only a word longer than ``LONG_WORD`` (a path, a hash) is cut, at that length. Headers
wrap at spaces. With no width (``--wide``, or output to a file or pipe) every cell stays on one line.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Optional

WHOLE = 12
LONG_WORD = 24
GAP = "  "
# Below this a terminal is not a width to lay tables out in: such a width is taken as this one.
NARROWEST = 40


def _words_floor(text: str, cap: Optional[int]) -> int:
    """The narrowest a text can wrap to: its longest word (cut at ``cap`` when given)."""
    longest = max((len(word) for word in text.split()), default=0)
    return min(longest, cap) if cap is not None else longest


def _floor(cell: str, header: bool) -> int:
    if header:
        return _words_floor(cell, None)
    return len(cell) if len(cell) <= WHOLE else max(WHOLE, _words_floor(cell, LONG_WORD))


def _wrap(cell: str, width: int) -> list[str]:
    if len(cell) <= width:
        return [cell]
    return textwrap.wrap(cell, width, break_on_hyphens=False) or [""]


def _widths(natural: list[int], floor: list[int], width: int) -> list[int]:
    """Narrow the widest columns first, none below its floor, until the row fits ``width``."""
    widths = list(natural)
    room = width - len(GAP) * (len(widths) - 1)
    while sum(widths) > room:
        wide = max(range(len(widths)), key=lambda c: (widths[c] - floor[c] > 0, widths[c]))
        if widths[wide] <= floor[wide]:
            break
        widths[wide] -= 1
    return widths


def _groups(floor: list[int], width: int) -> list[list[int]]:
    """Columns in tables that each fit ``width`` at their floors; every table after the first repeats column 0."""
    groups: list[list[int]] = [[0]]
    used = floor[0]
    for column in range(1, len(floor)):
        if len(groups[-1]) > 1 and used + len(GAP) + floor[column] > width:
            groups.append([0])
            used = floor[0]
        groups[-1].append(column)
        used += len(GAP) + floor[column]
    return groups


def _lines(headers: Sequence[str], rows: Sequence[Sequence[str]], widths: list[int]) -> list[str]:
    def block(cells: Sequence[str]) -> list[str]:
        wrapped = [_wrap(cell, w) for cell, w in zip(cells, widths)]
        height = max(len(lines) for lines in wrapped)
        return [GAP.join((lines[i] if i < len(lines) else "").ljust(w) for lines, w in zip(wrapped, widths)).rstrip()
                for i in range(height)]

    out: list[str] = []
    if headers:
        out += block(headers)
        out.append(GAP.join("-" * w for w in widths))
    for row in rows:
        out += block(row)
    return out


def fit_table(headers: Sequence[str], rows: Sequence[Sequence[str]], width: Optional[int]) -> list[str]:
    """The table's lines, each at most ``width`` characters where that is possible (None: no limit)."""
    columns = max([len(headers), *(len(row) for row in rows)], default=0)
    if columns == 0:
        return []
    headers = list(headers) + [""] * (columns - len(headers)) if headers else []
    grid = [list(row) + [""] * (columns - len(row)) for row in rows]
    natural = [max([len(headers[c]) if headers else 0, *(len(row[c]) for row in grid)]) for c in range(columns)]
    if width is None:
        return _lines(headers, grid, natural)
    width = max(width, NARROWEST)
    floor = [max([_floor(headers[c], True) if headers else 0, *(_floor(row[c], False) for row in grid)])
             for c in range(columns)]
    out: list[str] = []
    for group in _groups(floor, width) if sum(floor) + len(GAP) * (columns - 1) > width else [list(range(columns))]:
        if out:
            out.append("")
        pick = [(natural[c], floor[c]) for c in group]
        widths = _widths([n for n, _ in pick], [f for _, f in pick], width)
        out += _lines([headers[c] for c in group] if headers else [], [[row[c] for c in group] for row in grid],
                      widths)
    return out


def fit_text(line: str, width: Optional[int]) -> list[str]:
    """A line of prose wrapped at spaces to ``width`` (None: left whole)."""
    if width is None or len(line) <= width:
        return [line]
    return textwrap.wrap(line, max(width, NARROWEST), break_on_hyphens=False) or [""]
