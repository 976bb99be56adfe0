"""Text for a terminal: what a file brought (its column names, a header cell) printed as
itself, never as control sequences.

A CSV header may hold anything: an ANSI escape (``\\x1b[2J`` clears the screen), a carriage
return that overwrites the line before it, a bidi override that reorders what the operator
reads. The human summaries pass through :func:`printable`, which shows such characters as
escapes (``\\x1b``, ``\\u202e``) and keeps line breaks and tabs; the JSON outputs keep the exact
names (JSON escapes them itself).
"""

from __future__ import annotations

import unicodedata

_KEPT = frozenset("\n\t")


def printable(text: str) -> str:
    """``text`` with every character Python does not call printable — controls (ANSI escapes,
    carriage returns), format characters (bidi overrides), line separators, unassigned code
    points — written as an escape; newline, tab and spaces of every width are kept."""
    if text.isprintable():  # the usual case: nothing to do, nothing allocated
        return text
    return "".join(
        char
        if char.isprintable() or char in _KEPT or unicodedata.category(char) == "Zs"
        else _escaped(char)
        for char in text
    )


def _escaped(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
