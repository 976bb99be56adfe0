"""What spreadsheets do to identifiers on their way into a CRM export.

Two kinds of damage, told apart because one is reversible and the other is not:

* **Guards** keep a spreadsheet from reading a value as a number (which would drop its leading
  zeros or its ``+``): a leading apostrophe (``'0123`` — Excel's text prefix, which Shopify also
  writes before ids, phones and ZIP codes) or a formula that yields the text (``="0123"``,
  ``="+442070313000"``). The value inside the guard is intact: :func:`strip_spreadsheet_guard`
  returns it.
* **Scientific notation** (``7.01234E+12``) is what Excel shows, and saves, for a long number in
  a General-format cell: only six significant digits survive, so the original id or phone
  number cannot be recovered. :func:`is_scientific_notation` recognises it so that the record
  is rejected (``mangled_by_spreadsheet``) rather than sent under a wrong or shared id.

Both checks are cheap on ordinary values: callers test the first character (``'`` or ``=``)
or the presence of ``+`` before calling them.
"""

from __future__ import annotations

import re
from typing import Final

GUARD_STARTS: Final = "'="
"""First characters of a guarded value; anything else is returned by
:func:`strip_spreadsheet_guard` unchanged."""

_FORMULA_GUARD: Final = re.compile(r'=\s*"(.*)"', re.DOTALL)
# Excel's "General" number format: a mantissa (at most 15 significant digits, usually 6), an
# uppercase or lowercase E, an explicit exponent sign. The "+" is required: an id such as
# "12e45" (hexadecimal, say) is not evidence of damage, but "E+" is never part of a real id.
_SCIENTIFIC: Final = re.compile(r"[+-]?\d{1,15}(?:[.,]\d{1,15})?[eE]\+\d{1,3}")


def strip_spreadsheet_guard(value: str) -> str:
    """``value`` without a spreadsheet's text guard: ``'0123`` → ``0123``, ``="0123"`` →
    ``0123``, ``="+44 20 7031 3000"`` → ``+44 20 7031 3000``; anything else unchanged.

    Only one guard is removed, and a formula only when it is exactly ``="…"`` (another
    formula is not a guard, and its text is not the value).
    """
    if not value or value[0] not in GUARD_STARTS:
        return value
    if value[0] == "'":
        return value[1:].strip()
    formula = _FORMULA_GUARD.fullmatch(value)
    return formula.group(1).strip() if formula is not None else value


def is_scientific_notation(value: str) -> bool:
    """Whether ``value`` (trimmed) is a number in scientific notation as a spreadsheet writes
    it (``7.01234E+12``, ``1.57141e+10``, ``4.4207E+11``): the digits it stood for are lost."""
    return "+" in value and _SCIENTIFIC.fullmatch(value) is not None
