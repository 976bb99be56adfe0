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

    def _digest(self, name: str, value: str, country: str) -> str | None:
        """``hash_pii`` with a bounded memo for the fields whose values repeat across a file
        (names, city, state, postal): a pure function of its arguments, so memoizing is exact,
        and a CRM export repeats "TX" or "Houston" thousands of times."""
        if name not in _REPEATING_FIELDS:
            return hash_pii(name, value, country)
        key = (name, value, country)
        memo = self._memo
        try:
            return memo[key]
        except KeyError:
            pass
        if len(memo) >= _MEMO_ENTRIES:
            memo.clear()  # bounded memory; a fresh memo refills with the frequent values
        digest = memo[key] = hash_pii(name, value, country)
        return digest

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
        digest_of = self._digest
        for index, pii in enumerate(record.pii_sets):
            hashed: dict[str, str] = {}
            for name, value in pii.items():
                if declared and (index, name) in declared:
                    digest = hash_pii(name, value, country, True)
                else:
                    digest = digest_of(name, value, country)
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
