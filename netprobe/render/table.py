"""Plain-text tables for a terminal, one titled section after another."""

from __future__ import annotations

from tabulate import tabulate

from netprobe.render.sections import Document


def render_document(doc: Document) -> str:
    """The document as plain-text tables."""
    out = [doc.title, "=" * min(len(doc.title), 100)]
    out += doc.lead
    for section in doc.sections:
        out += ["", section.title, "-" * len(section.title)]
        out += section.lead
        if any(section.headers):
            out.append(tabulate(section.rows, headers=section.headers, tablefmt="simple", disable_numparse=True))
        else:  # a key-value section: no header row to underline
            out.append(tabulate(section.rows, tablefmt="plain", disable_numparse=True))
    return "\n".join(out) + "\n"
