"""Text from outside (a server's words, the OS's names, another machine's report) made safe for a terminal or a log.

A control character can move the cursor, recolour or clear a terminal (C0 escapes and the 8-bit
CSI of C1, U+009B), and a bidi override (U+202E) makes a line read as something it does not say.
Each such character is shown escaped (``\\x1b``, ``\\u202e``) wherever netprobe renders text.
"""

from __future__ import annotations

_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_UNSAFE = {code: f"\\x{code:02x}" for code in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))}
_UNSAFE.update({code: f"\\u{code:04x}" for code in _BIDI})
_TABLE = str.maketrans(_UNSAFE)


def safe_text(text: str) -> str:
    """``text`` with every control and bidi-formatting character escaped."""
    return text.translate(_TABLE) if not text.isascii() or not text.isprintable() else text
