"""From a raw PII value to the hash ADM receives — or to nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from adm_ingest.normalize.address import normalize_address_prepared
from adm_ingest.normalize.email import (
    normalize_ascii_email,
    normalize_email_prepared,
)
from adm_ingest.normalize.hashing import is_sha256_hex, sha256
from adm_ingest.normalize.names import (
    normalize_city_prepared,
    normalize_name_prepared,
)
from adm_ingest.normalize.normalizers import NORMALIZERS, Normalizer
from adm_ingest.normalize.phone import normalize_phone_prepared
from adm_ingest.normalize.placeholders import (
    AMBIGUOUS_FORMS,
    EMPTY_FORMS,
    KNOWN_EMPTY_DIGESTS,
    RAW_PLACEHOLDERS,
)
from adm_ingest.normalize.postal import normalize_postal_prepared
from adm_ingest.normalize.state import normalize_state_prepared
from adm_ingest.records import PII_FIELDS

_PREPARED_NORMALIZERS: Final[dict[str, Normalizer]] = {
    "email": normalize_email_prepared,
    "phone": normalize_phone_prepared,
    "first_name": normalize_name_prepared,
    "last_name": normalize_name_prepared,
    "address": normalize_address_prepared,
    "city": normalize_city_prepared,
    "state": normalize_state_prepared,
    "postal": normalize_postal_prepared,
}
"""The same rules for a value that is already prepared (trimmed, no BOM, NFC)."""

assert tuple(_PREPARED_NORMALIZERS) == PII_FIELDS


def hash_pii(field: str, value: str, country: str, declared_hashed: bool = False) -> str | None:
    """Return the SHA-256 hex to send for one PII value, or ``None`` to omit the field.

    * A value that already is 64 hex characters is passed through, lowercased — never
      hashed twice — unless it is a known-empty digest (the SHA-256 of ``""`` or of a
      placeholder such as ``null``: :data:`~adm_ingest.normalize.placeholders.KNOWN_EMPTY_DIGESTS`),
      which gives ``None``.
    * A column declared hashed whose value is not 64 hex characters is unusable: ``None``.
    * Otherwise the value is normalized for ``field`` and ``country`` (trimmed, NFC first);
      an empty or invalid result, a placeholder (``N/A``, ``null``…: see
      :mod:`~adm_ingest.normalize.placeholders`) or a result that cannot be UTF-8 encoded
      gives ``None`` — never the hash of the empty string.

    Raises :class:`KeyError` for a ``field`` outside :data:`~adm_ingest.records.PII_FIELDS`
    (the message names the field, never the value).
    """
    stripped = value.strip()
    if declared_hashed:
        return DECLARED_HASHERS[field](stripped, country)
    return hash_stripped_pii(field, stripped, country)


def hash_stripped_pii(field: str, value: str, country: str) -> str | None:
    """:func:`hash_pii` (not declared hashed) for a value without surrounding whitespace — what
    :meth:`~adm_ingest.mapping.MappingPlan.apply` produces.

    Such a value that is also ASCII is already prepared (NFC, no BOM), so it goes straight to
    the field's rule instead of being trimmed again by ``hash_pii`` and by the normalizer.
    """
    return HASHERS[field](value, country)


Hasher = Callable[[str, str], "str | None"]
"""``(stripped value, country) -> digest``: :func:`hash_stripped_pii` for one field."""


def _field_hasher(field: str) -> Hasher:
    prepared, full = _PREPARED_NORMALIZERS[field], NORMALIZERS[field]
    known_empty, empty_forms = KNOWN_EMPTY_DIGESTS[field], EMPTY_FORMS[field]
    raw_placeholders = RAW_PLACEHOLDERS[field]
    # The normalized forms a placeholder can take: one set probe per value tells the usual
    # value apart (none for phone, whose placeholders never normalize to anything).
    suspects = empty_forms | AMBIGUOUS_FORMS.get(field, frozenset())

    def hash_value(value: str, country: str) -> str | None:
        if len(value) == 64 and is_sha256_hex(value):  # length first: hot path
            digest = value.lower()
            return None if digest in known_empty else digest
        normalized = (prepared if value.isascii() else full)(value, country)
        if not normalized:
            return None
        if (
            suspects
            and normalized in suspects  # "null"; or "na" — from "N/A", or the surname "Na"?
            and (normalized in empty_forms or value.lower() in raw_placeholders)
        ):
            return None
        try:
            encoded = normalized.encode()
        except UnicodeEncodeError:  # lone surrogates (undecodable bytes smuggled in): unusable
            return None
        return sha256(encoded).hexdigest()  # sha256_hex, inlined: hot path

    hash_value.__qualname__ = hash_value.__name__ = f"hash_{field}"
    return hash_value


# No placeholder survives the email rule (none has an "@"), so a computed email digest is
# never a known-empty one: only a pre-hashed email needs the check.
assert not EMPTY_FORMS["email"] and not RAW_PLACEHOLDERS["email"]
_EMPTY_EMAIL_DIGESTS: Final = KNOWN_EMPTY_DIGESTS["email"]


def _hash_email(value: str, country: str) -> str | None:
    # The common ASCII email hashes the rule's bytes directly (no str round trip).
    if not value.isascii():
        return _hash_any_email(value, country)
    if len(value) == 64 and is_sha256_hex(value):
        digest = value.lower()
        return None if digest in _EMPTY_EMAIL_DIGESTS else digest
    cleaned = normalize_ascii_email(value)
    return None if cleaned is None else sha256(cleaned).hexdigest()


_hash_any_email = _field_hasher("email")

HASHERS: Final[dict[str, Hasher]] = {
    **{field: _field_hasher(field) for field in PII_FIELDS},
    "email": _hash_email,
}
"""The :data:`Hasher` of each canonical PII field."""


def _declared_hasher(field: str) -> Hasher:
    known_empty = KNOWN_EMPTY_DIGESTS[field]

    def declared_digest(value: str, country: str) -> str | None:
        if not is_sha256_hex(value):
            return None
        digest = value.lower()
        return None if digest in known_empty else digest

    declared_digest.__qualname__ = declared_digest.__name__ = f"declared_{field}"
    return declared_digest


DECLARED_HASHERS: Final[dict[str, Hasher]] = {
    field: _declared_hasher(field) for field in PII_FIELDS
}
"""The :data:`Hasher` of each field for a column declared already hashed: the value lowercased
if it is 64 hex characters and not a known-empty digest, else ``None``."""
