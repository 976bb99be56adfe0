"""A count of items (``unitsSold``) as files write it: ``2``, ``2.0``, ``2,0``, ``1 000`` —
read with the same no-guessing rules as money (``1.000`` is one or a thousand: ambiguous
without the ``decimal`` option), and never truncated (``2.5`` is not 2)."""

from __future__ import annotations

from adm_ingest.records import Reason
from adm_ingest.values.numbers import read_number
from adm_ingest.values.problems import ValueProblem

NOT_A_COUNT = ValueProblem(Reason.INVALID_UNITS, "units must be a whole number")


def parse_units(text: str, *, decimal: str | None = None) -> int | ValueProblem:
    """The whole number ``text`` writes (a leading ``-`` gives a negative number; the caller
    decides the allowed range). ``ambiguous_value`` for ``1,000`` / ``1.000`` without a
    ``decimal`` option; ``invalid_units`` for fractions and text."""
    body = text.strip()
    negative = body[:1] in ("-", "−")
    number = read_number(body[1:].lstrip() if negative else body, decimal=decimal)
    if isinstance(number, ValueProblem):
        return number if number.reason == Reason.AMBIGUOUS_VALUE else NOT_A_COUNT
    if number != number.to_integral_value():
        return NOT_A_COUNT
    return -int(number) if negative else int(number)
