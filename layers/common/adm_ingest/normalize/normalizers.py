"""The normalizer of each canonical PII field: one table, used by the hashers (``pii``) and by
the known-empty digests (``placeholders``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from adm_ingest.normalize.address import normalize_address
from adm_ingest.normalize.email import normalize_email
from adm_ingest.normalize.names import normalize_city, normalize_name
from adm_ingest.normalize.phone import normalize_phone
from adm_ingest.normalize.postal import normalize_postal
from adm_ingest.normalize.state import normalize_state
from adm_ingest.records import PII_FIELDS

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
"""The normalizer for each canonical PII field (keys = :data:`adm_ingest.records.PII_FIELDS`)."""

assert tuple(NORMALIZERS) == PII_FIELDS, "every canonical PII field needs a normalizer"
