"""Postal code normalization (ADM key ``zip``, matchKey ``POSTAL``).

Rules per country (uploader ``zip_normalizer.py``): keep the country's allowed characters,
cut to the country's length, and keep the result only if it has the country's shape.

=========  ======================  ======  =====================================
country    kept characters         length  shape
=========  ======================  ======  =====================================
US, other  ASCII digits            5       5 digits (``75236-9599`` → ``75236``)
CA         ASCII letters, digits   6       ``A1A1A1``
GB         ASCII letters, digits   7       UK postcode (``A1 1AA`` … ``AA1A 1AA``)
IN         decimal digits          6       6 digits
JP         ASCII digits            7       7 digits
=========  ======================  ======  =====================================

Letter case is kept as written, exactly like the reference (which hashes ``k1a0b1`` and
``K1A0B1`` differently); IN keeps any Unicode decimal digit, as the reference's ``\\d``
does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from adm_ingest.normalize._text import prepare
from adm_ingest.normalize.countries import CountryRules


@dataclass(frozen=True, slots=True)
class PostalRule:
    """How one country's postal codes are cleaned, cut and checked."""

    discard: re.Pattern[str]
    """Characters removed before cutting."""
    ascii_discard: bytes
    """The same characters restricted to ASCII, as a deletion table for ASCII input."""
    length: int
    """Characters kept (the rest is an extension such as a US ZIP+4)."""
    shape: re.Pattern[str]
    """What the cut code must look like (matched from the start, as the reference does)."""


def _rule(discard: str, length: int, shape: str) -> PostalRule:
    pattern = re.compile(discard)
    ascii_discard = bytes(c for c in range(128) if pattern.fullmatch(chr(c)))
    return PostalRule(pattern, ascii_discard, length, re.compile(shape))


_DEFAULT = _rule(r"[^0-9]+", 5, r"\d{5}")
_RULES: CountryRules[PostalRule] = CountryRules(
    {
        "CA": _rule(r"[^0-9A-Za-z]+", 6, r"([A-Za-z]\d){3}$"),
        "GB": _rule(
            r"[^0-9A-Za-z]+", 7, r"(([A-Za-z]{1,2}\d{2,3})|([A-Za-z]{1,2}\d[A-Za-z]\d))[A-Za-z]{2}$"
        ),
        "IN": _rule(r"\D+", 6, r"\d{6}"),
        "JP": _rule(r"[^0-9]+", 7, r"\d{7}"),
    },
    _DEFAULT,
)


def normalize_postal(value: str, country: str = "US") -> str | None:
    """Return the normalized postal code, or ``None`` if it does not have the right shape."""
    return normalize_postal_prepared(prepare(value), country)


def normalize_postal_prepared(value: str, country: str = "US") -> str | None:
    """:func:`normalize_postal` for a value that is already prepared (``prepare(value) ==
    value``), so the hot path does not trim it a second time."""
    rule = _RULES.for_country(country)
    if value.isascii():
        code = value.encode("ascii").translate(None, rule.ascii_discard)[: rule.length].decode()
    else:
        code = rule.discard.sub("", value)[: rule.length]
    if rule.shape.match(code) is None:
        return None
    return code
