"""What a destination asks of a record: which canonical fields it takes, how PII is normalized
and hashed, and whether consent is required.

The preparer (:class:`~adm_ingest.prepare.Preparer`) applies a destination's rules; nothing on
the record path fixes them itself, so a destination with other rules (another platform's
hashing, no consent) declares them instead of branching the path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from adm_ingest.countries import CONSENT_REQUIRED
from adm_ingest.normalize.pii import DECLARED_HASHERS, HASHERS, Hasher


@dataclass(frozen=True, slots=True)
class RecordRules:
    """A destination's record rules."""

    fields: frozenset[str] | None = None
    """The canonical fields (PII and attributes) the destination takes; ``None``: all of them.
    A column mapped to any other field is not read — not hashed, not sent, and (for
    ``country`` and the consent fields) not deciding the context: the mapping's defaults do."""
    # Read-only views of the shared tables (a dataclass default can't be a mapping itself).
    hashers: Mapping[str, Hasher] = field(default_factory=lambda: MappingProxyType(HASHERS))
    """Per PII field: raw value and country → the digest sent, or ``None`` (empty / invalid)."""
    declared_hashers: Mapping[str, Hasher] = field(
        default_factory=lambda: MappingProxyType(DECLARED_HASHERS)
    )
    """Per PII field, for a column declared already hashed."""
    requires_consent: bool = True
    """Whether consent applies at all: without it, consent signals are neither read nor sent."""
    consent_countries: frozenset[str] = CONSENT_REQUIRED
    """Where a record must carry a consent signal to be sent (Amazon's UK and EEA, and CH by
    our own decision: see :data:`adm_ingest.countries.CONSENT_REQUIRED_BEYOND_AMAZON`)."""

    def takes(self, field: str) -> bool:
        return self.fields is None or field in self.fields


AMAZON_RULES = RecordRules()
"""Amazon Ads' identity matching: every field, Amazon's normalization and SHA-256, consent
required where :data:`~adm_ingest.countries.CONSENT_REQUIRED` says."""
AMAZON_RULES_WITHOUT_CONSENT = RecordRules(requires_consent=False)
"""The same for a request that needs no consent (a GDPR identity deletion is the person's own
request)."""
