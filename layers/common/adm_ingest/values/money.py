"""Money as CRM exports write it — ``45,90 €``, ``$1,234.56``, ``CA$ 210.00``, ``(25.00)``,
``1'234.56 CHF`` — read into an exact amount and, where the text says so, its currency.

Why no library: price-parser guesses the decimal separator from the digits (``1,234`` becomes
1234 or 1.234 depending on heuristics) — exactly the silent 1000× error this module exists to
prevent — and babel's locale data (~30 MB) is too heavy for the Lambda layer and still needs a
locale per file. The grammar here is small and explicit (see :mod:`adm_ingest.values.numbers`).

Currency markers (a symbol or ISO code before or after the number) are checked against the
file's currency column: a marker that cannot mean that currency is ``currency_mismatch``. A
marker that means one currency (``€``, ``£``, ``CA$``, ``JP¥``, ``EUR``) gives the currency when
there is no column. A marker shared by several currencies (``$``: USD, CAD, AUD, MXN…;
``¥``: JPY or CNY; ``kr``: SEK, NOK, DKK) gives none: the amount is then sent without a
currency, which ADM reads in the conversion definition's own currency — the same as a bare
number.

Amounts are rounded half-up to the currency's minor units (ISO 4217; two when unknown, the
API's own ``multipleOf 0.01``). Signs (``-25.00``, ``-$25.00``, ``$-25.00``, ``(25.00)``,
``25.00-``) are read; whether a negative amount may be sent is the destination's decision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType

from adm_ingest.records import Reason
from adm_ingest.values.numbers import read_number
from adm_ingest.values.problems import ValueProblem

#: ISO 4217 minor units of the currencies ADM's ``currencyCode`` accepts (its enum, checked
#: against the API schema by a test). Only JPY has none.
MINOR_UNITS: MappingProxyType[str, int] = MappingProxyType(
    {
        code: 2
        for code in "AED AUD BRL CAD CNY DKK EUR GBP INR MXN NOK NZD SAR SEK SGD TRY USD".split()
    }
    | {"JPY": 0}
)
DEFAULT_MINOR_UNITS = 2

_DOLLAR = frozenset({"USD", "CAD", "AUD", "NZD", "SGD", "MXN", "HKD", "TWD", "ARS", "CLP"})
_CROWN = frozenset({"SEK", "NOK", "DKK", "ISK"})
_YEN_YUAN = frozenset({"JPY", "CNY"})
_RUPEE = frozenset({"INR", "PKR", "LKR", "NPR"})
_RIAL = frozenset({"SAR", "IRR", "OMR", "QAR", "YER"})

#: Marker (case-folded, trailing '.' removed) → every currency it may mean.
CURRENCY_MARKERS: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {
        "$": _DOLLAR,
        "us$": frozenset({"USD"}),
        "u$s": frozenset({"USD"}),
        "ca$": frozenset({"CAD"}),
        "c$": frozenset({"CAD"}),
        "can$": frozenset({"CAD"}),
        "cad$": frozenset({"CAD"}),
        "a$": frozenset({"AUD"}),
        "au$": frozenset({"AUD"}),
        "aud$": frozenset({"AUD"}),
        "nz$": frozenset({"NZD"}),
        "s$": frozenset({"SGD"}),
        "sg$": frozenset({"SGD"}),
        "mx$": frozenset({"MXN"}),
        "mex$": frozenset({"MXN"}),
        "r$": frozenset({"BRL"}),
        "€": frozenset({"EUR"}),
        "£": frozenset({"GBP"}),
        "gb£": frozenset({"GBP"}),
        "¥": _YEN_YUAN,
        "￥": _YEN_YUAN,
        "jp¥": frozenset({"JPY"}),
        "円": frozenset({"JPY"}),
        "cn¥": frozenset({"CNY"}),
        "rmb": frozenset({"CNY"}),
        "元": frozenset({"CNY"}),
        "₹": frozenset({"INR"}),
        "rs": _RUPEE,
        "kr": _CROWN,
        "skr": frozenset({"SEK"}),
        "nkr": frozenset({"NOK"}),
        "dkr": frozenset({"DKK"}),
        "₺": frozenset({"TRY"}),
        "tl": frozenset({"TRY"}),
        "د.إ": frozenset({"AED"}),
        "dh": frozenset({"AED"}),
        "dhs": frozenset({"AED"}),
        "﷼": _RIAL,
        "ر.س": frozenset({"SAR"}),
        "sr": frozenset({"SAR"}),
        "fr": frozenset({"CHF"}),
        "chf": frozenset({"CHF"}),
        "zł": frozenset({"PLN"}),
        "₽": frozenset({"RUB"}),
        "₩": frozenset({"KRW"}),
        "₪": frozenset({"ILS"}),
        "r": frozenset({"ZAR"}),
    }
)

_ISO_CODE = re.compile(r"[A-Za-z]{3}")
_PLAIN = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,2})?")
_QUANTA = {digits: Decimal(1).scaleb(-digits) for digits in (0, 1, 2, 3)}
_MINUS = "-−"


def _marker_pattern() -> str:
    """Every known marker (longest first, so ``CA$`` wins over ``$``; letters may end in '.',
    as in ``kr.`` / ``Rs.``) or any three-letter ISO code, case-insensitively."""
    alternatives = []
    for marker in sorted(CURRENCY_MARKERS, key=len, reverse=True):
        escaped = re.escape(marker)
        alternatives.append(escaped + r"\.?" if marker[-1].isalpha() else escaped)
    return "(?i:" + "|".join([*alternatives, "[a-z]{3}"]) + ")"


#: [sign] [marker] [sign] number [sign] [marker] [sign], spaces allowed between the parts;
#: parentheses around the whole are handled first.
_MONEY = re.compile(
    rf"(?P<sign1>[-−+])?\s*(?P<pre>{_marker_pattern()})?\s*(?P<sign2>[-−+])?\s*"
    r"(?P<number>(?:\d|[.,]\d)[\d.,'’ \u00a0\u202f\u2009]*?)\s*(?P<sign3>-)?\s*"
    rf"(?P<post>{_marker_pattern()})?\s*(?P<sign4>-)?"
)

NOT_MONEY = ValueProblem(Reason.INVALID_VALUE, "not an amount of money")
TWO_SIGNS = ValueProblem(Reason.INVALID_VALUE, "more than one sign")
TWO_MARKERS = ValueProblem(Reason.INVALID_VALUE, "currency written both before and after")
MISMATCH = ValueProblem(
    Reason.CURRENCY_MISMATCH, "the amount's currency symbol or code is not the currency column's"
)


@dataclass(frozen=True, slots=True)
class Money:
    """An amount rounded to its currency's minor units. ``currency`` is the currency column's
    code or the one the amount's marker unambiguously names; None when neither says.
    ``marked``: the text carried a currency symbol or code (so it is certainly money)."""

    amount: Decimal
    currency: str | None = None
    marked: bool = False

    @property
    def ambiguous_marker(self) -> bool:
        """A symbol such as ``$`` was written but names no single currency."""
        return self.marked and self.currency is None


def parse_money(
    text: str, *, currency: str | None = None, decimal: str | None = None
) -> Money | ValueProblem:
    """The amount ``text`` writes.

    ``currency`` is the record's (validated, upper-case) currency column, if any; ``decimal``
    the file's stated decimal separator. Rejections: ``invalid_value`` (not money),
    ``ambiguous_value`` (``1,234`` without a ``decimal`` option), ``currency_mismatch``
    (``€`` with a USD column), ``invalid_currency`` (a code or symbol of a currency ADM does
    not take, e.g. ``CHF``).
    """
    body = text.strip()
    if decimal != "," and _PLAIN.fullmatch(body):  # the common case, "129.90": no markers
        minor = MINOR_UNITS.get(currency, DEFAULT_MINOR_UNITS) if currency else DEFAULT_MINOR_UNITS
        return Money(Decimal(body).quantize(_QUANTA[minor], rounding=ROUND_HALF_UP), currency)
    negative = False
    if body.startswith("(") and body.endswith(")"):
        body, negative = body[1:-1].strip(), True
    match = _MONEY.fullmatch(body)
    if match is None:
        return NOT_MONEY
    signs = [s for s in match.group("sign1", "sign2", "sign3", "sign4") if s]
    if len(signs) > 1 or (signs and negative):
        return TWO_SIGNS
    negative = negative or (bool(signs) and signs[0] in _MINUS)
    pre, post = match.group("pre", "post")
    if pre and post:
        return TWO_MARKERS
    marker = pre or post

    resolved = currency
    if marker:
        meanings = _meanings(marker)
        if meanings is None:
            return NOT_MONEY
        if currency is not None:
            if currency not in meanings:
                return MISMATCH
        elif len(meanings) == 1:
            (resolved,) = meanings
            if resolved not in MINOR_UNITS:
                return ValueProblem(Reason.INVALID_CURRENCY, "a currency ADM does not take")
    minor = MINOR_UNITS.get(resolved, DEFAULT_MINOR_UNITS) if resolved else DEFAULT_MINOR_UNITS
    number = read_number(match.group("number").rstrip(), decimal=decimal, whole=minor == 0)
    if isinstance(number, ValueProblem):
        return number
    amount = number.quantize(_QUANTA[minor], rounding=ROUND_HALF_UP)
    return Money(-amount if negative else amount, resolved, marked=bool(marker))


def _meanings(marker: str) -> frozenset[str] | None:
    """Every currency ``marker`` may stand for; None for text that is no currency marker."""
    key = marker.casefold()
    if key not in CURRENCY_MARKERS and key.endswith("."):
        key = key[:-1]  # "kr.", "Rs."
    if key in CURRENCY_MARKERS:
        return CURRENCY_MARKERS[key]
    if _ISO_CODE.fullmatch(key):
        return frozenset({key.upper()})
    return None
