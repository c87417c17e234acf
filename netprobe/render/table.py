"""Plain-text tables for a terminal, one titled section after another, within the terminal's width."""

from __future__ import annotations

from typing import Optional

from netprobe.render.fit import fit_table, fit_text
from netprobe.render.safe import safe_text
from netprobe.render.sections import Document

# The title's rule stops here on a wide terminal or in a file.
RULE_MAX = 100


def render_document(doc: Document, width: Optional[int] = None) -> str:
    """The document as plain-text tables, every text from outside escaped (``safe_text``).

    ``width`` is the terminal's: lines wrap and wide tables split to fit it; None keeps every line whole.
    """
    title_lines = fit_text(safe_text(doc.title), width)
    out = [*title_lines, "=" * min(max(len(line) for line in title_lines), width or RULE_MAX, RULE_MAX)]
    for line in doc.lead:
        out += fit_text(safe_text(line), width)
    for section in doc.sections:
        title = fit_text(safe_text(section.title), width)
        out += ["", *title, "-" * max(len(line) for line in title)]
        for line in section.lead:
            out += fit_text(safe_text(line), width)
        rows = [[safe_text(str(cell)) for cell in row] for row in section.rows]
        headers = [safe_text(h) for h in section.headers] if any(section.headers) else []
        out += fit_table(headers, rows, width)
    return "\n".join(out) + "\n"
