"""Preparation: a mapped record becomes a :class:`PreparedRecord` — country resolved, consent
attached, every PII value normalized and SHA-256 hashed (or omitted when empty/invalid).

This is the last place raw PII exists; nothing downstream of it sees an unhashed value.
"""

from __future__ import annotations

from adm_ingest.consent import ConsentError, ConsentPolicy
from adm_ingest.model import ConsentSignals, MappedRecord, PreparedRecord, Rejection
from adm_ingest.normalize import hash_pii
from adm_ingest.normalize.pii import hash_stripped_pii

_NO_CONSENT = ConsentSignals()
_REPEATING_FIELDS = frozenset({"first_name", "last_name", "city", "state", "postal"})
_MEMO_ENTRIES = 25_000
"""Bound on each field's memo (per country). Worst case, all memos full: 2 countries × 5 fields
× 25,000 entries of ~200 bytes ≈ 50 MB (≈ 25 MB for the usual one-country file) — memory
stays flat in file size, and 25,000 holds the frequent names, cities and ZIPs of a CRM file."""
_MEMO_COUNTRIES = 2
"""Bound on the countries memoized at once (a file is almost always one country)."""


class Preparer:
    """Turns mapped records into prepared ones under one consent policy.

    ``requires_consent`` is False for destinations where consent does not apply (a GDPR
    identity deletion is the person's own request).
    """

    __slots__ = ("_memos", "policy", "requires_consent")

    def __init__(self, policy: ConsentPolicy, *, requires_consent: bool = True) -> None:
        self.policy = policy
        self.requires_consent = requires_consent
        # country → repeating field → value → digest (None: invalid).
        self._memos: dict[str, dict[str, dict[str, str | None]]] = {}

    def _new_memos(self, country: str) -> dict[str, dict[str, str | None]]:
        """Start the digest memos of ``country``'s records, one per repeating field."""
        if len(self._memos) >= _MEMO_COUNTRIES:
            self._memos.clear()  # bounded like the memos themselves
        memos = self._memos[country] = {name: {} for name in _REPEATING_FIELDS}
        return memos

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
        # Names, city, state and postal repeat across a file ("TX" thousands of times); the
        # digest is a pure function of (field, value, country), so a bounded memo per field
        # is exact. Inlined rather than a helper call: this is the per-value hot path.
        memos = self._memos.get(country) or self._new_memos(country)
        for index, pii in enumerate(record.pii_sets):
            hashed: dict[str, str] = {}
            for name, value in pii.items():
                if declared and (index, name) in declared:
                    digest = hash_pii(name, value, country, True)
                elif (memo := memos.get(name)) is None:
                    # One strip here (mapping already stripped, but callers may not have);
                    # the stripped entry point then skips the normalizers' own trimming.
                    digest = hash_stripped_pii(name, value.strip(), country)
                elif value in memo:
                    digest = memo[value]
                else:
                    if len(memo) >= _MEMO_ENTRIES:
                        memo.clear()  # bounded; refills with the frequent values
                    digest = memo[value] = hash_stripped_pii(name, value.strip(), country)
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
