"""Preparation: a mapped record becomes a :class:`PreparedRecord` — country resolved, consent
attached, every PII value normalized and SHA-256 hashed (or omitted when empty/invalid).

This is the last place raw PII exists; nothing downstream of it sees an unhashed value.
"""

from __future__ import annotations

from adm_ingest.consent import ConsentError, ConsentPolicy
from adm_ingest.model import ConsentSignals, MappedRecord, PreparedRecord, Rejection
from adm_ingest.normalize import hash_pii

_NO_CONSENT = ConsentSignals()
_REPEATING_FIELDS = frozenset({"first_name", "last_name", "city", "state", "postal"})
_MEMO_ENTRIES = 100_000


class Preparer:
    """Turns mapped records into prepared ones under one consent policy.

    ``requires_consent`` is False for destinations where consent does not apply (a GDPR
    identity deletion is the person's own request).
    """

    __slots__ = ("_memo", "policy", "requires_consent")

    def __init__(self, policy: ConsentPolicy, *, requires_consent: bool = True) -> None:
        self.policy = policy
        self.requires_consent = requires_consent
        self._memo: dict[tuple[str, str, str], str | None] = {}

    def prepare(self, record: MappedRecord) -> PreparedRecord | Rejection:
        attributes = record.attributes
        try:
            country = self.policy.country_of(attributes)
            consent = (
                self.policy.signals_of(attributes, country)
                if self.requires_consent
                else _NO_CONSENT
            )
        except ConsentError as error:
            return Rejection(record.line, error.reason, error.detail)

        hashed_sets: list[dict[str, str]] = []
        invalid: list[str] = []
        declared = record.hashed
        # Names, city, state and postal repeat across a file ("TX" thousands of times);
        # hash_pii is a pure function of (field, value, country), so a bounded memo is exact.
        # Inlined rather than a helper call: this is the per-value hot path.
        memo = self._memo
        for index, pii in enumerate(record.pii_sets):
            hashed: dict[str, str] = {}
            for name, value in pii.items():
                if declared and (index, name) in declared:
                    digest = hash_pii(name, value, country, True)
                elif name in _REPEATING_FIELDS:
                    key = (name, value, country)
                    if key in memo:
                        digest = memo[key]
                    else:
                        if len(memo) >= _MEMO_ENTRIES:
                            memo.clear()  # bounded; refills with the frequent values
                        digest = memo[key] = hash_pii(name, value, country)
                else:
                    digest = hash_pii(name, value, country)
                if digest is None:
                    invalid.append(name)
                else:
                    hashed[name] = digest
            if hashed:
                hashed_sets.append(hashed)
        return PreparedRecord(
            line=record.line,
            country=country,
            hashed_sets=hashed_sets,
            consent=consent,
            attributes=attributes,
            invalid_fields=tuple(invalid),
        )
