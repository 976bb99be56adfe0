"""Normalize and SHA-256 hash PII exactly as Amazon does, so that hashes match.

Each normalizer takes ``(value, country)`` and returns the normalized string, or ``None``
when nothing usable remains (the field is then omitted, never sent as the hash of ``""``).
The rules reproduce Amazon's reference implementations (see NORMALIZATION.md in the
project docs); the only deliberate departure is phone parsing, which honours the record's
country for numbers written without ``+``.

>>> hash_pii("email", "  Foo.Bar+tag@Example.COM ", "US") == sha256_hex("foo.bartag@example.com")
True
"""

from adm_ingest.normalize.address import normalize_address
from adm_ingest.normalize.email import normalize_email
from adm_ingest.normalize.hashing import is_sha256_hex, sha256_hex
from adm_ingest.normalize.names import normalize_city, normalize_name
from adm_ingest.normalize.normalizers import NORMALIZERS, Normalizer
from adm_ingest.normalize.phone import normalize_phone
from adm_ingest.normalize.pii import hash_pii
from adm_ingest.normalize.postal import normalize_postal
from adm_ingest.normalize.state import normalize_state

__all__ = [
    "NORMALIZERS",
    "Normalizer",
    "hash_pii",
    "is_sha256_hex",
    "normalize_address",
    "normalize_city",
    "normalize_email",
    "normalize_name",
    "normalize_phone",
    "normalize_postal",
    "normalize_state",
    "sha256_hex",
]
