"""From a raw PII value to the hash ADM receives — or to nothing."""

from __future__ import annotations

from collections.abc import Callable
from hashlib import sha256
from typing import Final

from adm_ingest.model import PII_FIELDS
from adm_ingest.normalize.address import normalize_address
from adm_ingest.normalize.email import normalize_email
from adm_ingest.normalize.hashing import is_sha256_hex
from adm_ingest.normalize.names import normalize_city, normalize_name
from adm_ingest.normalize.phone import normalize_phone
from adm_ingest.normalize.postal import normalize_postal
from adm_ingest.normalize.state import normalize_state

Normalizer = Callable[[str, str], "str | None"]
"""``(value, country) -> normalized value``, or ``None`` when empty or invalid."""

NORMALIZERS: Final[dict[str, Normalizer]] = {
    "email": normalize_email,
    "phone": normalize_phone,
    "first_name": normalize_name,
    "last_name": normalize_name,
    "address": normalize_address,
    "city": normalize_city,
    "state": normalize_state,
    "postal": normalize_postal,
}
"""The normalizer for each canonical PII field (keys = :data:`adm_ingest.model.PII_FIELDS`)."""

assert tuple(NORMALIZERS) == PII_FIELDS, "every canonical PII field needs a normalizer"


def hash_pii(field: str, value: str, country: str, declared_hashed: bool = False) -> str | None:
    """Return the SHA-256 hex to send for one PII value, or ``None`` to omit the field.

    * A value that already is 64 hex characters is passed through, lowercased — never
      hashed twice.
    * A column declared hashed whose value is not 64 hex characters is unusable: ``None``.
    * Otherwise the value is normalized for ``field`` and ``country`` (trimmed, NFC first);
      an empty or invalid result (or one that cannot be UTF-8 encoded) gives ``None`` —
      never the hash of the empty string.

    Raises :class:`KeyError` for a ``field`` outside :data:`~adm_ingest.model.PII_FIELDS`
    (the message names the field, never the value).
    """
    stripped = value.strip()
    if len(stripped) == 64 and is_sha256_hex(stripped):  # length first: hot path
        return stripped.lower()
    if declared_hashed:
        return None
    normalized = NORMALIZERS[field](stripped, country)
    if not normalized:
        return None
    try:
        encoded = normalized.encode()
    except UnicodeEncodeError:  # lone surrogates (undecodable bytes smuggled in): unusable
        return None
    return sha256(encoded).hexdigest()  # sha256_hex, inlined: hot path
