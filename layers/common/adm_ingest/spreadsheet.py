"""Text a spreadsheet may open: CSV rows written with quoting, cells that can't run as formulas.

``rejects/<key>.csv`` and the report's human text end up in Excel or Google Sheets. A cell that
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a formula there
(OWASP, "CSV Injection"), so every string that came from a file or an API is
:func:`neutralise`\\ d — prefixed with ``'``, which spreadsheets show as text — and rows are
written with :mod:`csv`, so commas, quotes and line breaks inside a cell stay inside it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence

FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet evaluate a cell."""


def neutralise(text: str) -> str:
    """``text``, with a leading ``'`` when it would start a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def csv_rows(rows: Iterable[Sequence[int | str]]) -> bytes:
    """UTF-8 CSV of ``rows`` with LF line ends and minimal quoting; string cells neutralised.

    The csv module quotes a cell holding a character of its line terminator; with an LF
    terminator a lone CR would go unquoted and split the row for any reader. So rows are
    written CRLF-terminated (a CR or LF in a cell is quoted) and their terminators made LF.
    """
    out = _LfLines()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise(cell) if isinstance(cell, str) else cell for cell in row])
    return "".join(out.lines).encode()


class _LfLines:
    """A file for :func:`csv.writer` that keeps each written row with an LF line end."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, row: str) -> int:
        self.lines.append(row[:-2] + "\n")  # the writer writes one whole row per call
        return len(row)
