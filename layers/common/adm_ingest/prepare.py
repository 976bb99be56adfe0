"""Preparation: a mapped record becomes a :class:`PreparedRecord` — country resolved, consent
attached, every PII value normalized and SHA-256 hashed (or omitted when empty/invalid).

This is the last place raw PII exists; nothing downstream of it sees an unhashed value.
"""

from __future__ import annotations

from adm_ingest.consent import CONSENT_FIELDS, ConsentError, ConsentPolicy, CountrySource
from adm_ingest.mapping import RowLayout
from adm_ingest.model import ConsentSignals, MappedRecord, PreparedRecord, Rejection
from adm_ingest.normalize.hashing import is_sha256_hex
from adm_ingest.normalize.pii import HASHERS, Hasher

_NO_CONSENT = ConsentSignals()
_Context = tuple[str, ConsentSignals]
"""A record's resolved country and consent signals."""
_CONTEXT_FIELDS = frozenset({"country", *CONSENT_FIELDS})
"""The attributes a record's context depends on (besides the policy and the defaults)."""
_Column = tuple[int, str, Hasher]
"""A PII column as :meth:`Preparer.prepare_row` works it: (index, field, its hasher)."""
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
        # Field → its hasher; those of the repeating fields remember what they hashed.
        self._hashers: dict[str, Hasher] = {
            name: _memoized(hasher) if name in _REPEATING_FIELDS else hasher
            for name, hasher in HASHERS.items()
        }
        # The last layout's plan: (layout, PII columns, the context every row shares — or None
        # when the layout has country or consent columns).
        self._row_plan: (
            tuple[RowLayout, tuple[tuple[_Column, ...], ...], _Context | Rejection | None] | None
        ) = None

    def prepare(self, record: MappedRecord) -> PreparedRecord | Rejection:
        line, attributes, declared = record.line, record.attributes, record.hashed
        context = self._context(line, attributes)
        if type(context) is Rejection:
            return context
        country, consent = context  # type: ignore[misc]
        hashers = self._hashers
        hashed_sets: list[dict[str, str]] = []
        invalid: tuple[str, ...] = ()
        for index, pii in enumerate(record.pii_sets):
            hashed: dict[str, str] = {}
            for name, raw in pii.items():
                # One strip here (mapping already stripped, but callers may not have).
                value = raw.strip()
                if declared and (index, name) in declared:
                    digest = _declared_digest(value, country)
                else:
                    digest = hashers[name](value, country)
                if digest is None:
                    invalid += (name,)
                else:
                    hashed[name] = digest
            if hashed:
                hashed_sets.append(hashed)
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
        _, pii_sets, context = plan
        if context is None:  # the row has its own country or consent columns
            context = self._context(line, attributes)
        if type(context) is Rejection:
            return Rejection(line, context.reason, context.detail)
        country, consent = context  # type: ignore[misc]
        hashed_sets: list[dict[str, str]] = []
        invalid: tuple[str, ...] = ()  # nearly always stays empty: no list per row
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
                hashed_sets.append(hashed)
        return PreparedRecord(line, country, hashed_sets, consent, attributes, invalid)

    def _plan_rows(
        self, layout: RowLayout
    ) -> tuple[RowLayout, tuple[tuple[_Column, ...], ...], _Context | Rejection | None]:
        """The layout's PII columns with their hashers and, when it has no country or consent
        column, the context all its rows share (made once per layout)."""
        columns = tuple(
            tuple(
                (index, name, _declared_digest if declared else self._hashers[name])
                for index, name, declared in pii_set
            )
            for pii_set in layout.pii_sets
        )
        shared = None
        if _CONTEXT_FIELDS.isdisjoint(name for _, name in layout.attributes):
            shared = self._shared_context(dict(layout.defaults))
        plan = self._row_plan = (layout, columns, shared)
        return plan

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


def _declared_digest(value: str, country: str) -> str | None:
    """The :data:`Hasher` of a column declared already hashed (``hash_pii(..., True)``)."""
    return value.lower() if is_sha256_hex(value) else None
