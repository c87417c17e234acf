"""Render result records as a table, JSON or GitHub-flavoured markdown; nothing is computed here."""

from __future__ import annotations

import importlib
import json
from typing import Any, Optional

from netprobe.vocabulary import Format

# The module that renders a document (``render_document``) in each format but JSON, which is the
# record itself. A new format is a ``Format`` member, its module, and one entry here: the CLI's
# --format and the contract test read them.
DOCUMENT_RENDERERS: dict[Format, str] = {
    Format.TABLE: "netprobe.render.table",
    Format.MARKDOWN: "netprobe.render.markdown",
    Format.HTML: "netprobe.render.html",
}


def render(result: Any, fmt: str, width: Optional[int] = None) -> str:
    """Return ``result`` rendered in ``fmt`` (a netprobe.vocabulary.Format), ending with a newline.

    ``width`` is the terminal's, for formats read there (None: every line whole).
    """
    if fmt == Format.JSON:
        return json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n"
    from netprobe.render import documents

    document = documents.document_for(result)
    text: str = importlib.import_module(DOCUMENT_RENDERERS[Format(fmt)]).render_document(document, width)
    return text
