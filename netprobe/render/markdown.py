"""GitHub-flavoured markdown, for $GITHUB_STEP_SUMMARY and issues."""

from __future__ import annotations

from tabulate import tabulate

from netprobe.render.sections import Document


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|")


def render_document(doc: Document) -> str:
    out = [f"## {doc.title}", ""]
    out += [f"**{line}**" if i == 0 else line for i, line in enumerate(doc.lead)]
    for section in doc.sections:
        out += ["", f"### {section.title}", ""]
        out += [line + "\n" for line in section.lead]
        rows = [[_escape(c) for c in row] for row in section.rows]
        headers = [_escape(h) if h else " " for h in section.headers]
        out.append(tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True))
    return "\n".join(out) + "\n"
