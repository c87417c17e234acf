"""Render result records as a table, JSON or GitHub-flavoured markdown; nothing is computed here."""

from __future__ import annotations

import json
from typing import Any


def render(result: Any, fmt: str) -> str:
    """Return ``result`` rendered in ``fmt`` (a netprobe.vocabulary.Format), ending with a newline."""
    if fmt == "json":
        return json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n"
    from netprobe.render import documents

    document = documents.document_for(result)
    if fmt == "markdown":
        from netprobe.render.markdown import render_document
    else:
        from netprobe.render.table import render_document
    return render_document(document)
