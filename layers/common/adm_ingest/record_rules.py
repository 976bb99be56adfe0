"""Record rules: what a destination takes from a record, and how it must be prepared.

The preparer applies a destination's rules: which canonical fields it takes, how each PII field
is normalized and hashed (Amazon's rules for ADM, :mod:`adm_ingest.normalize.pii`; another
platform may differ), and whether UK/EEA records need a consent signal to be sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from adm_ingest.normalize.pii import DECLARED_HASHERS, HASHERS, Hasher


@dataclass(frozen=True, slots=True)
class RecordRules:
    fields: frozenset[str] | None = None
    """The canonical fields the destination takes (None: every field the mapping knows)."""
    hashers: Mapping[str, Hasher] = field(default_factory=lambda: HASHERS)
    """PII field → normalize-and-hash, for raw values."""
    declared_hashers: Mapping[str, Hasher] = field(default_factory=lambda: DECLARED_HASHERS)
    """PII field → check, for values the mapping declares already hashed."""
    requires_consent: bool = True
    """Whether records of consent-required countries need a consent signal to be sent."""


AMAZON_RULES = RecordRules()
"""Amazon's normalization and hashing, consent required for UK/EEA/CH records."""
AMAZON_RULES_WITHOUT_CONSENT = RecordRules(requires_consent=False)
"""For a GDPR identity deletion: the person's own request needs no consent signal."""
