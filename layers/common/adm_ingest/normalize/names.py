"""First name, last name and city normalization (``fn`` / ``ln`` / ``cty``).

Names follow the uploader's ``default_normalizer.py``: lowercase, transliterate the German
and Nordic letters ``ß ä ö ü ø æ``, then keep only ``[a-z0-9]``. Cities follow
``city_normalizer.py``: the same without transliteration (``München`` → ``mnchen``, as
Amazon computes it).
"""

from __future__ import annotations

import re

from adm_ingest.normalize._text import prepare

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_TRANSLITERATION = str.maketrans({"ß": "ss", "ä": "ae", "ö": "oe", "ü": "ue", "ø": "o", "æ": "ae"})
# ASCII input only needs a deletion table; bytes.translate is the cheapest way to apply it
# (written out in each normalizer rather than a shared helper: a call per name is measurable).
_ASCII_NOT_ALNUM = bytes(c for c in range(128) if not chr(c).isalnum())


def normalize_name(value: str, country: str = "US") -> str | None:
    """Return the normalized first or last name, or ``None`` if nothing remains.

    ``Müller`` → ``mueller``; ``Le - Count`` → ``lecount``. ``country`` is unused (the
    reference applies one rule worldwide) but kept for the uniform signature.
    """
    return normalize_name_prepared(prepare(value), country)


def normalize_name_prepared(value: str, country: str = "US") -> str | None:
    """:func:`normalize_name` for a value that is already prepared (``prepare(value) ==
    value``), so the hot path does not trim it a second time."""
    if value.isascii():
        name = value.encode("ascii").lower().translate(None, _ASCII_NOT_ALNUM).decode("ascii")
    else:
        name = _NOT_ALNUM.sub("", value.lower().translate(_TRANSLITERATION))
    return name or None


def normalize_city(value: str, country: str = "US") -> str | None:
    """Return the normalized city (lowercase ``[a-z0-9]`` only), or ``None`` if empty."""
    return normalize_city_prepared(prepare(value), country)


def normalize_city_prepared(value: str, country: str = "US") -> str | None:
    """:func:`normalize_city` for a value that is already prepared (``prepare(value) ==
    value``), so the hot path does not trim it a second time."""
    if value.isascii():
        city = value.encode("ascii").lower().translate(None, _ASCII_NOT_ALNUM).decode("ascii")
    else:
        city = _NOT_ALNUM.sub("", value.lower())
    return city or None
