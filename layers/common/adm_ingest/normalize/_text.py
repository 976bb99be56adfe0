"""The preparation every normalizer applies before its own rule: trim, drop a BOM, NFC.

Kept in one place so that every field sees the same bytes: Amazon compares hashes, and a
decomposed ``u`` + combining diaeresis must normalize exactly like the precomposed ``ü``.
"""

from __future__ import annotations

import unicodedata

_BOM = "\ufeff"


def prepare(value: str) -> str:
    """Return ``value`` trimmed, without a leading UTF-8 BOM, in Unicode NFC.

    ASCII input (the overwhelming majority of CRM data) is already NFC and cannot carry a
    BOM, so it only pays for :meth:`str.strip`.
    """
    value = value.strip()
    if value.isascii():
        return value
    if value.startswith(_BOM):
        value = value.lstrip(_BOM).strip()
    return unicodedata.normalize("NFC", value)
