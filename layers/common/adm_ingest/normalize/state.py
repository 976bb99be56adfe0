"""State / province / region normalization (ADM key ``st``, matchKey ``STATE``).

Rule (uploader ``state_normalizer.py``): uppercase and keep letters ``A-Z`` only; a full
name known for the country (US, CA, DE, ES, FR, IT) becomes its abbreviation; otherwise the
first two letters are kept; the result is lowercased. ``Texas`` (US) → ``tx``.
"""

from __future__ import annotations

import re

from adm_ingest.normalize._state_tables import BY_COUNTRY
from adm_ingest.normalize._text import prepare
from adm_ingest.normalize.countries import CountryRules

_NOT_LETTER = re.compile(r"[^A-Z]+")
_ASCII_NOT_UPPER = bytes(c for c in range(128) if not (65 <= c <= 90))
_NAMES: CountryRules[dict[str, str]] = CountryRules(BY_COUNTRY, {})


def normalize_state(value: str, country: str = "US") -> str | None:
    """Return the lowercase state code for ``country``, or ``None`` if no letters remain."""
    return normalize_state_prepared(prepare(value), country)


def normalize_state_prepared(value: str, country: str = "US") -> str | None:
    """:func:`normalize_state` for a value that is already prepared (``prepare(value) ==
    value``), so the hot path does not trim it a second time."""
    if value.isascii():
        letters = value.encode("ascii").upper().translate(None, _ASCII_NOT_UPPER).decode("ascii")
    else:
        letters = _NOT_LETTER.sub("", value.upper())
    abbreviation = _NAMES.for_country(country).get(letters)
    if abbreviation is not None:
        letters = abbreviation
    # The reference truncates only when the *input* is longer than two characters, so an
    # upper-casing expansion of a short input ("ßß" → "SSSS") is kept whole. Reproduced.
    elif len(value) > 2:
        letters = letters[:2]
    return letters.lower() or None
