"""Preparation: a mapped record becomes a :class:`PreparedRecord` — country resolved, consent
attached, every PII value normalized and SHA-256 hashed (or omitted when empty/invalid), and
only the PII sets Amazon can match on kept (:mod:`adm_ingest.identifiers`).

This is the last place raw PII exists; nothing downstream of it sees an unhashed value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from adm_ingest.consent import CONSENT_FIELDS, ConsentError, ConsentPolicy, CountrySource
from adm_ingest.identifiers import is_matchable
from adm_ingest.mapping import RowLayout
from adm_ingest.normalize.hashing import is_sha256_hex
from adm_ingest.normalize.pii import DECLARED_HASHERS, HASHERS, Hasher
from adm_ingest.normalize.spreadsheet import is_scientific_notation
from adm_ingest.records import ConsentSignals, MappedRecord, PreparedRecord, Reason, Rejection

_NO_CONSENT = ConsentSignals()
_Context = tuple[str, ConsentSignals]
"""A record's resolved country and consent signals."""
_CONTEXT_FIELDS = frozenset({"country", *CONSENT_FIELDS})
"""The attributes a record's context depends on (besides the policy and the defaults)."""
_Column = tuple[int, str, Hasher]
"""A PII column as :meth:`Preparer.prepare_row` works it: (index, field, its hasher)."""
_RowPlan = tuple[RowLayout, tuple[tuple[_Column, ...], ...], _Context | Rejection | None, bool]
"""What :meth:`Preparer.prepare_row` needs of a layout (see :meth:`Preparer._plan_rows`)."""
_REPEATING_FIELDS = frozenset({"first_name", "last_name", "city", "state", "postal"})
_MEMO_ENTRIES = 25_000
"""Bound on each repeating field's memo, all countries together. Worst case, all memos full:
5 fields × 25,000 entries of ~250 bytes ≈ 30 MB — memory stays flat in file size, and 25,000
holds the frequent names, cities and ZIPs of a CRM file."""


class Preparer:
    """Turns mapped records (or CSV rows, through a :class:`RowLayout`) into prepared ones
    under one consent policy.

    ``requires_consent`` is False for destinations where consent does not apply (a GDPR
    identity deletion is the person's own request).

    Where countries came from is counted without a cost per row on the row lane: a record
    whose context is computed for it (:meth:`_context`) is counted there; rows of a layout
    with no country or consent column all share one context, and their caller counts them in
    bulk (:meth:`country_counts`).
    """

    __slots__ = (
        "_defaulted",
        "_hashers",
        "_mapping_default",
        "_own_countries",
        "_row_plan",
        "_shared_country",
        "contexts",
        "notes",
        "policy",
        "requires_consent",
    )

    def __init__(self, policy: ConsentPolicy, *, requires_consent: bool = True) -> None:
        self.policy = policy
        self.requires_consent = requires_consent
        self.contexts = 0
        """Records whose context was computed for them (every other prepared row shared its
        layout's context)."""
        self._own_countries: dict[str, int] = {}
        """Records with a country of their own, by country."""
        self._defaulted = 0
        """Records (with a context of their own) that took the policy's default country."""
        self._mapping_default = policy.country_source == CountrySource.MAPPING_DEFAULT
        self._shared_country: tuple[bool, str] | None = None
        """(counts as the record's own, country) of the rows sharing a layout's context."""
        self.notes: Counter[str] = Counter()
        """File-level observations for the report's hints, by code: ``insufficient_pii_set``
        (a names-only set dropped beside a matchable one), ``phone_mangled_by_spreadsheet`` (a
        phone in scientific notation left out of a record sent on other identifiers),
        ``known_empty_hash`` (a pre-hashed value that is the hash of "" or a placeholder)."""
        # Field → its hasher; those of the repeating fields remember what they hashed.
        self._hashers: dict[str, Hasher] = {
            name: _memoized(hasher) if name in _REPEATING_FIELDS else hasher
            for name, hasher in HASHERS.items()
        }
        # The last layout's plan: (layout, PII columns, the context every row shares — or None
        # when the layout has country or consent columns —, whether a set can be unmatchable).
        self._row_plan: _RowPlan | None = None

    def prepare(self, record: MappedRecord) -> PreparedRecord | Rejection:
        line, attributes, declared = record.line, record.attributes, record.hashed
        context = self._context(line, attributes)
        if type(context) is Rejection:
            return context
        country, consent = context  # type: ignore[misc]
        hashers = self._hashers
        hashed_sets: list[dict[str, str]] = []
        invalid: tuple[str, ...] = ()
        dropped = 0
        for index, pii in enumerate(record.pii_sets):
            hashed: dict[str, str] = {}
            for name, raw in pii.items():
                # One strip here (mapping already stripped, but callers may not have).
                value = raw.strip()
                if declared and (index, name) in declared:
                    digest = DECLARED_HASHERS[name](value, country)
                else:
                    digest = hashers[name](value, country)
                if digest is None:
                    invalid += (name,)
                else:
                    hashed[name] = digest
            if hashed:
                if "email" in hashed or is_matchable(hashed):  # email first: the usual set
                    hashed_sets.append(hashed)
                else:
                    dropped += 1
        if dropped or invalid:
            raw_values = (item for pii in record.pii_sets for item in pii.items())
            reason = self._shortfall(hashed_sets, invalid, dropped, raw_values)
            return PreparedRecord(line, country, hashed_sets, consent, attributes, invalid, reason)
        return PreparedRecord(line, country, hashed_sets, consent, attributes, invalid)

    def prepare_row(
        self, line: int, fields: list[str], layout: RowLayout
    ) -> PreparedRecord | Rejection:
        """``prepare(plan.apply(record))`` for a CSV record given as its list of ``fields``
        (``layout`` is the plan's :meth:`~adm_ingest.mapping.MappingPlan.row_layout` for the
        file's header), without building the mapped record in between."""
        attributes = layout.defaults.copy()
        for index, name in layout.attributes:
            value = fields[index].strip()
            if value:  # mapping drops empty values
                attributes[name] = value
        plan = self._row_plan
        if plan is None or plan[0] is not layout:
            plan = self._plan_rows(layout)
        _, pii_sets, context, judge_sets = plan
        if context is None:  # the row has its own country or consent columns
            context = self._context(line, attributes)
        if type(context) is Rejection:
            return Rejection(line, context.reason, context.detail)
        country, consent = context  # type: ignore[misc]
        hashed_sets: list[dict[str, str]] = []
        invalid: tuple[str, ...] = ()  # nearly always stays empty: no list per row
        dropped = 0
        for columns in pii_sets:
            hashed: dict[str, str] = {}
            for index, name, hasher in columns:
                value = fields[index].strip()
                if not value:  # mapping drops empty values
                    continue
                digest = hasher(value, country)
                if digest is None:
                    invalid += (name,)
                else:
                    hashed[name] = digest
            if hashed:
                if judge_sets and not ("email" in hashed or is_matchable(hashed)):
                    dropped += 1
                else:
                    hashed_sets.append(hashed)
        if dropped or invalid:
            # Through a function: a generator expression here would turn `fields` into a cell
            # variable, slowing every read of it above (~500 instructions a row).
            reason = self._shortfall(hashed_sets, invalid, dropped, _row_pii(fields, pii_sets))
            return PreparedRecord(line, country, hashed_sets, consent, attributes, invalid, reason)
        return PreparedRecord(line, country, hashed_sets, consent, attributes, invalid)

    def _plan_rows(self, layout: RowLayout) -> _RowPlan:
        """The layout's PII columns with their hashers; when it has no country or consent
        column, the context all its rows share; and whether a set of its can hold only fields
        that are unmatchable alone — not when every PII column is an email or a phone, as in
        the usual email-only file (made once per layout)."""
        columns = tuple(
            tuple(
                (index, name, DECLARED_HASHERS[name] if declared else self._hashers[name])
                for index, name, declared in pii_set
            )
            for pii_set in layout.pii_sets
        )
        shared = None
        if _CONTEXT_FIELDS.isdisjoint(name for _, name in layout.attributes):
            shared = self._shared_context(dict(layout.defaults))
        judge_sets = not all(
            is_matchable((name,)) for pii_set in layout.pii_sets for _, name, _ in pii_set
        )
        plan = self._row_plan = (layout, columns, shared, judge_sets)
        return plan

    def _shortfall(
        self,
        hashed_sets: list[dict[str, str]],
        invalid: tuple[str, ...],
        dropped: int,
        raw_values: Iterable[tuple[str, str]],
    ) -> str:
        """The rare turns of a record with omitted values or dropped sets: the reason to give
        if nothing else identifies it (see :attr:`PreparedRecord.no_identity_reason`), and the
        notes a file's report turns into hints. ``raw_values``: its PII (field, raw value)."""
        notes = self.notes
        mangled_phone = False
        for name, raw in raw_values:
            if name not in invalid:
                continue
            value = raw.strip()
            if name == "phone" and is_scientific_notation(value):
                mangled_phone = True
            elif is_sha256_hex(value):  # a pre-hashed value refused: a known-empty digest
                notes["known_empty_hash"] += 1
        if hashed_sets:  # the record is identified: what was left out is only worth a hint
            if dropped:
                notes["insufficient_pii_set"] += dropped
            if mangled_phone:
                notes["phone_mangled_by_spreadsheet"] += 1
            return Reason.NO_IDENTIFIER
        if mangled_phone:  # the phone would have identified it
            return Reason.MANGLED_BY_SPREADSHEET
        return Reason.INSUFFICIENT_IDENTIFIER if dropped else Reason.NO_IDENTIFIER

    def _context(self, line: int, attributes: dict[str, str]) -> _Context | Rejection:
        """The record's country and consent signals, or why it can't be sent; counts where
        the country came from."""
        self.contexts += 1
        policy = self.policy
        try:
            country = policy.country_of(attributes)
        except ConsentError as error:
            return Rejection(line, error.reason, error.detail)
        # With a mapping default the attribute is always there; a record naming the default
        # country itself is indistinguishable from it and counts as defaulted.
        if "country" in attributes and (country != policy.country or not self._mapping_default):
            own = self._own_countries
            own[country] = own.get(country, 0) + 1
        else:
            self._defaulted += 1
        if not self.requires_consent:
            return country, _NO_CONSENT
        try:
            return country, policy.signals_of(attributes, country)
        except ConsentError as error:
            return Rejection(line, error.reason, error.detail)

    def _shared_context(self, attributes: dict[str, str]) -> _Context | Rejection:
        """The context every row of a layout without country or consent columns shares. Its
        rows are not counted here but in bulk by the caller (:meth:`take_country_counts`);
        this remembers which country they take and whether it counts as their own (the
        defaults may name a country the policy doesn't, exactly as in :meth:`_context`)."""
        policy = self.policy
        try:
            country = policy.country_of(attributes)
        except ConsentError as error:
            self._shared_country = None
            return Rejection(0, error.reason, error.detail)  # lines are the row's
        own = "country" in attributes and (country != policy.country or not self._mapping_default)
        self._shared_country = (own, country)
        if not self.requires_consent:
            return country, _NO_CONSENT
        try:
            return country, policy.signals_of(attributes, country)
        except ConsentError as error:
            return Rejection(0, error.reason, error.detail)

    def take_country_counts(self, shared_rows: int) -> tuple[dict[str, int], dict[str, int]]:
        """Records by country source and by country, of those whose country was resolved
        since the last call (whatever happened to them next: a missing consent, no
        identifier…); the counts start again from zero.

        ``shared_rows`` is the number of rows prepared with a layout's shared context — the
        caller knows it in bulk (records read minus those with a context of their own minus
        the reader's rejections)."""
        countries, self._own_countries = self._own_countries, {}
        defaulted, self._defaulted = self._defaulted, 0
        if shared_rows and self._shared_country is not None:
            own, country = self._shared_country
            if own:
                countries[country] = countries.get(country, 0) + shared_rows
            else:
                defaulted += shared_rows
        sources: dict[str, int] = {}
        if countries:
            sources[CountrySource.RECORD.value] = sum(countries.values())
        if defaulted:
            source = str(self.policy.country_source)
            sources[source] = defaulted
            countries[self.policy.country] = countries.get(self.policy.country, 0) + defaulted
        return sources, countries


def _row_pii(
    fields: list[str], pii_sets: tuple[tuple[_Column, ...], ...]
) -> Iterator[tuple[str, str]]:
    """A row's PII as (field, raw value)."""
    for columns in pii_sets:
        for index, name, _ in columns:
            yield name, fields[index]


def _memoized(hasher: Hasher) -> Hasher:
    """``hasher`` with a bounded memo of the digests it made.

    Names, city, state and postal repeat across a file ("TX" thousands of times); the digest is
    a pure function of (field, value, country), so remembering it is exact.
    """
    memo: dict[tuple[str, str], str | None] = {}

    def digest(value: str, country: str) -> str | None:
        key = (value, country)
        if key in memo:
            return memo[key]
        if len(memo) >= _MEMO_ENTRIES:
            memo.clear()  # bounded; refills with the frequent values
        result = memo[key] = hasher(value, country)
        return result

    return digest
