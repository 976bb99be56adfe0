"""Values that mean "no value": never hashed, and their hashes never forwarded.

A CRM or a warehouse fills a blank field with a placeholder (``NULL``, ``N/A``, ``unknown``,
``-``, ``0``) and, when it hashes the column itself, sends the SHA-256 of the empty string or of
that placeholder. Such a digest matches nobody and, shared by thousands of records, pollutes the
dataset; a hashed placeholder is worse than no value. So, per PII field:

* :data:`PLACEHOLDERS` — the placeholder words (compared case-insensitively) we treat as empty
  in that field. The lists are deliberately small and conservative: a word is left out of a
  field where it is also a real value once normalized — ``None`` and ``Nan`` are surnames and
  given names, ``Na`` and ``Nil`` too, ``None`` (Piedmont) and ``Nan`` (Thailand) are towns —
  so names and cities only drop the unambiguous ``null``, ``n/a``, ``unknown``, ``undefined``,
  ``-`` and ``0`` (and a state is never ``NA``, which is Napoli's code).
* :data:`AMBIGUOUS_FORMS` — normalized forms that a placeholder produces but a real value
  produces too (``N/A`` and the surname ``Na`` both normalize to ``na``; every state
  normalizes to a two-letter code that some country uses). Placeholders that normalize to one
  of these are recognised in their raw spelling only (:data:`RAW_PLACEHOLDERS`), before
  normalization; everything else is recognised after it (:data:`EMPTY_FORMS`).
* :data:`KNOWN_EMPTY_DIGESTS` — the SHA-256 of the empty string, of a single space, of each
  field's empty forms and of the raw spellings of its placeholders (``null``, ``NULL``,
  ``Null`` …) that no correct normalization can produce. A pre-hashed value (64 hex, or a
  column declared hashed) equal to one of these is invalid: omitted and counted, never sent.

Everything below the word lists is computed from them at import (a few hundred hashes, once);
``tests/unit/test_identifiers_golden.py`` pins the resulting digests.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from adm_ingest.normalize.hashing import sha256_hex
from adm_ingest.normalize.normalizers import NORMALIZERS
from adm_ingest.records import PII_FIELDS

_EVERYWHERE: Final = ("null", "n/a", "#n/a", "unknown", "undefined", "-", "0")
"""Placeholders that are no real value of any PII field (``#N/A`` is Excel's "not available")."""
_NOT_A_NAME: Final = ("none", "nil", "nan", "na")
"""Placeholders only where no real value looks like them: as a surname, a given name or a town
each of these exists (None, Nil, Nan, Na), so names and cities keep them."""

PLACEHOLDERS: Final[dict[str, tuple[str, ...]]] = {
    "email": (*_EVERYWHERE, *_NOT_A_NAME),
    "phone": (*_EVERYWHERE, *_NOT_A_NAME),
    "first_name": _EVERYWHERE,
    "last_name": _EVERYWHERE,
    "address": (*_EVERYWHERE, *_NOT_A_NAME),
    "city": _EVERYWHERE,
    # Not "na": NA is a real state as written (Napoli's province code).
    "state": (*_EVERYWHERE, "none", "nil", "nan"),
    # 00000 is no ZIP code (the lowest is 00501) and no postal code of a country the default
    # five-digit rule serves (DE, FR, ES, IT … start at 01000 or above 00010).
    "postal": (*_EVERYWHERE, *_NOT_A_NAME, "00000"),
}
"""Per field, the raw values (lowercase; compared case-insensitively) that mean "empty"."""

_COUNTRIES: Final = ("US", "CA", "GB", "FR", "DE", "ES", "IT", "JP", "IN", "NL", "AU", "BR")
"""Countries whose rules (phone, state, postal, address) the placeholders are normalized under:
every country with its own rules, and a few that take the default ones."""

assert tuple(NORMALIZERS) == PII_FIELDS == tuple(PLACEHOLDERS)


def _forms(field: str, value: str) -> set[str]:
    """What ``value`` normalizes to in ``field``, over every country's rules (empty results
    left out)."""
    normalize = NORMALIZERS[field]
    return {form for country in _COUNTRIES if (form := normalize(value, country))}


def _spellings(words: Iterable[str]) -> set[str]:
    """How a placeholder is written by systems that hash without normalizing first."""
    spellings = {"", " "}
    for word in words:
        spellings |= {word, word.upper(), word.capitalize(), word.title()}
    if "nan" in words:
        spellings.add("NaN")  # pandas / Spark's spelling
    return spellings


AMBIGUOUS_FORMS: Final[dict[str, frozenset[str]]] = {
    "first_name": frozenset({"na"}),  # N/A, #N/A — and the given name / surname Na
    "last_name": frozenset({"na"}),
    "city": frozenset({"na"}),
    # A state normalizes to two letters, and nearly every pair is some country's subdivision
    # code (NU Nunavut, NO Novara, NA Napoli, UN…): no normalized state is ever dropped.
    "state": frozenset(form for word in PLACEHOLDERS["state"] for form in _forms("state", word)),
}
"""Per field, normalized forms that both a placeholder and a real value produce."""

EMPTY_FORMS: Final[dict[str, frozenset[str]]] = {
    field: frozenset(
        form
        for word in words
        for form in _forms(field, word)
        if form not in AMBIGUOUS_FORMS.get(field, ())
    )
    for field, words in PLACEHOLDERS.items()
}
"""Per field, normalized values that mean "empty": never hashed."""

RAW_PLACEHOLDERS: Final[dict[str, frozenset[str]]] = {
    field: frozenset(
        word for word in words if _forms(field, word) & AMBIGUOUS_FORMS.get(field, frozenset())
    )
    for field, words in PLACEHOLDERS.items()
}
"""Per field, raw placeholders (lowercase) that normalize to an ambiguous form, so they are
recognised before normalization: ``N/A`` as a name, ``None`` as a state."""


def _known_empty(field: str) -> frozenset[str]:
    empty = EMPTY_FORMS[field]
    return frozenset(
        sha256_hex(spelling)
        for spelling in _spellings(PLACEHOLDERS[field]) | empty
        # A spelling that a correct normalization keeps as it is could be a real value's
        # normalized form (the surname "na"): only its raw placeholder is dropped, not its hash.
        if spelling in empty or spelling not in _forms(field, spelling)
    )


KNOWN_EMPTY_DIGESTS: Final[dict[str, frozenset[str]]] = {
    field: _known_empty(field) for field in PII_FIELDS
}
"""Per field, the SHA-256 hex digests that stand for an empty or placeholder value."""

EMPTY_STRING_DIGEST: Final = sha256_hex("")
assert all(EMPTY_STRING_DIGEST in digests for digests in KNOWN_EMPTY_DIGESTS.values())
