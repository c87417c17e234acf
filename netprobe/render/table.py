"""Plain-text tables for a terminal, one titled section after another."""

from __future__ import annotations

from tabulate import tabulate

from netprobe.render.safe import safe_text
from netprobe.render.sections import Document


def render_document(doc: Document) -> str:
    """The document as plain-text tables, every text from outside escaped (``safe_text``)."""
    title = safe_text(doc.title)
    out = [title, "=" * min(len(title), 100)]
    out += [safe_text(line) for line in doc.lead]
    for section in doc.sections:
        out += ["", safe_text(section.title), "-" * len(section.title)]
        out += [safe_text(line) for line in section.lead]
        rows = [[safe_text(str(cell)) for cell in row] for row in section.rows]
        if any(section.headers):
            out.append(tabulate(rows, headers=section.headers, tablefmt="simple", disable_numparse=True))
        else:  # a key-value section: no header row to underline
            out.append(tabulate(rows, tablefmt="plain", disable_numparse=True))
    return "\n".join(out) + "\n"
