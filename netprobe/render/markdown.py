"""GitHub-flavoured markdown, for $GITHUB_STEP_SUMMARY and issues."""

from __future__ import annotations

from typing import Optional

from tabulate import tabulate

from netprobe.render.safe import safe_text
from netprobe.render.sections import Document

# Text from input files reaches these tables (`report` renders other machines' JSON): a newline
# would end the table and start markdown of the file's choosing in $GITHUB_STEP_SUMMARY.
_ESCAPES = str.maketrans({"|": "\\|", "\n": " ", "\r": " ", "<": "&lt;", ">": "&gt;", "`": "\\`"})


def _escape(cell: str) -> str:
    return safe_text(cell.translate(_ESCAPES))


def render_document(doc: Document, width: Optional[int] = None) -> str:
    """The document as GitHub-flavoured markdown; ``width`` is ignored, as a page reflows its own."""
    out = [f"## {_escape(doc.title)}", ""]
    out += [f"**{_escape(line)}**" if i == 0 else _escape(line) for i, line in enumerate(doc.lead)]
    for section in doc.sections:
        out += ["", f"### {_escape(section.title)}", ""]
        out += [_escape(line) + "\n" for line in section.lead]
        rows = [[_escape(c) for c in row] for row in section.rows]
        headers = [_escape(h) if h else " " for h in section.headers]
        out.append(tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True))
    return "\n".join(out) + "\n"
