"""Reading a written number — ``1,234.56``, ``1.234,56``, ``1 234,56``, ``1'234.56`` — into an
exact :class:`~decimal.Decimal`, without ever guessing which separator is the decimal one.

The rules, in order:

* spaces (U+0020, NBSP U+00A0, narrow NBSP U+202F, thin space U+2009) and apostrophes (``'``,
  ``’``) only ever group digits;
* a separator that occurs more than once groups (``1,234,567``, ``1.234.567``);
* with both ``,`` and ``.``, the rightmost one, occurring once, is the decimal separator;
* a lone ``,`` or ``.`` next to another kind of grouping is the decimal separator
  (``1 234,56``);
* a lone ``,`` or ``.`` is decimal when it cannot be grouping: not exactly three digits after
  it (``45,90``, ``1.5``, ``3.14159``), or nothing / a leading zero / more than three digits
  before it (``,5``, ``0.125``, ``1234.567``);
* otherwise (``1,234``, ``1.234``) the number is ambiguous: the file's ``decimal`` option says
  which, or — for an amount that has no fractions (a currency without minor units) — it can
  only be grouping. Without either it is rejected as ``ambiguous_value``, never guessed.

Grouping must be regular: 1–3 digits then groups of exactly 3, or the Indian lakh/crore style
(1–2 digits, groups of 2, a last group of 3: ``1,23,456``).
"""

from __future__ import annotations

import re
from decimal import Decimal

from adm_ingest.records import Reason
from adm_ingest.values.problems import ValueProblem

SPACES = frozenset(" \u00a0\u202f\u2009")
APOSTROPHES = frozenset("'’")
#: Longest digit string read (13 integer digits + fractions covers every API limit).
MAX_DIGITS = 24

_SHAPE = re.compile(r"(?:[0-9][0-9.,'’ \u00a0\u202f\u2009]*[0-9]|[0-9]|[.,][0-9]+)")
_SEPARATOR = re.compile(r"[^0-9]")
_PLAIN = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,2})?")
_GROUPED = re.compile(r"[1-9][0-9]{0,2}(?:_[0-9]{3})+")
_GROUPED_INDIAN = re.compile(r"[1-9][0-9]?(?:_[0-9]{2})+_[0-9]{3}")

NOT_A_NUMBER = ValueProblem(Reason.INVALID_VALUE, "not a number")
AMBIGUOUS = ValueProblem(
    Reason.AMBIGUOUS_VALUE,
    "one ',' or '.' followed by three digits may group thousands or mark decimals; "
    'set the mapping\'s "decimal" option',
)
IRREGULAR = ValueProblem(Reason.INVALID_VALUE, "digit grouping is irregular")
AGAINST_OPTION = ValueProblem(
    Reason.INVALID_VALUE, 'separators do not fit the mapping\'s "decimal" option'
)
TOO_LONG = ValueProblem(Reason.INVALID_VALUE, "too many digits")


def read_number(text: str, *, decimal: str | None, whole: bool = False) -> Decimal | ValueProblem:
    """The unsigned number ``text`` writes (digits and separators only, already stripped).

    ``decimal`` is the file's stated decimal separator, if any. ``whole`` says fractions are
    impossible for this number (an amount in a currency without minor units), which makes a lone
    separator followed by three digits grouping.
    """
    if _PLAIN.fullmatch(text):  # the common case: no grouping, "." decimals
        return Decimal(text) if decimal != "," or "." not in text else _read(text, decimal, whole)
    return _read(text, decimal, whole)


def _read(text: str, decimal: str | None, whole: bool) -> Decimal | ValueProblem:
    if not _SHAPE.fullmatch(text):
        return NOT_A_NUMBER
    runs = _SEPARATOR.split(text)
    separators = _SEPARATOR.findall(text)
    if not separators:
        return _decimal(text, "")
    if "" in runs[1:]:  # two separators in a row
        return IRREGULAR
    kinds = {_kind(s) for s in separators}
    marks = [s for s in separators if s in ",."]
    spacer = kinds - {",", "."}
    if len(spacer) > 1:  # spaces and apostrophes mixed
        return IRREGULAR

    point: str | None  # the decimal separator found
    if len(set(marks)) == 2:
        point = separators[-1]
        if separators.count(point) != 1 or spacer:
            return IRREGULAR
    elif not marks:
        point = None
    elif spacer or not runs[0]:
        point = marks[0]
        if len(marks) != 1 or separators[-1] != point:
            return IRREGULAR
    elif len(marks) > 1:
        point = None
    elif decimal is not None:
        point = marks[0] if marks[0] == decimal else None
    elif len(runs[-1]) != 3 or runs[0].startswith("0") or len(runs[0]) > 3:
        point = marks[0]
    elif whole:
        point = None
    else:
        return AMBIGUOUS
    if decimal is not None and point is not None and point != decimal:
        return AGAINST_OPTION
    if decimal is not None and point is None and decimal in separators:
        return AGAINST_OPTION

    integer_runs, fraction = (runs[:-1], runs[-1]) if point else (runs, "")
    if not integer_runs[0]:
        integer_runs = ["0"]
    if len(integer_runs) > 1:
        grouped = "_".join(integer_runs)
        if not (_GROUPED.fullmatch(grouped) or _GROUPED_INDIAN.fullmatch(grouped)):
            return AGAINST_OPTION if decimal is not None else IRREGULAR
    return _decimal("".join(integer_runs), fraction)


def _kind(separator: str) -> str:
    if separator in SPACES:
        return " "
    if separator in APOSTROPHES:
        return "'"
    return separator


def _decimal(integer: str, fraction: str) -> Decimal | ValueProblem:
    if len(integer) + len(fraction) > MAX_DIGITS:
        return TOO_LONG
    return Decimal(f"{integer}.{fraction}" if fraction else integer)
