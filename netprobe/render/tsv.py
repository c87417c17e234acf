"""A throwaway output format: each section's rows as tab-separated values."""

from __future__ import annotations

from netprobe.render.safe import safe_text
from netprobe.render.sections import Document


def render_document(doc: Document) -> str:
    """The document as tab-separated values, a blank line between sections."""
    out = [safe_text(doc.title)]
    for section in doc.sections:
        out += ["", safe_text(section.title), "\t".join(section.headers)]
        out += ["\t".join(safe_text(str(cell)) for cell in row) for row in section.rows]
    return "\n".join(out) + "\n"
