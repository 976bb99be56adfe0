"""Preparation: a record of a block becomes a :class:`PreparedRecord` — country resolved,
consent attached, every PII value normalized and hashed by the destination's
:class:`~adm_ingest.record_rules.RecordRules` (or omitted when empty/invalid), and only the PII
sets Amazon can match on kept (:mod:`adm_ingest.identifiers`).

This is the last place raw PII exists; nothing downstream of it sees an unhashed value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from adm_ingest.consent import CONSENT_FIELDS, ConsentError, ConsentPolicy, CountrySource
from adm_ingest.identifiers import is_matchable
from adm_ingest.mapping import RecordLayout
from adm_ingest.normalize.hashing import is_sha256_hex
from adm_ingest.normalize.pii import Hasher
from adm_ingest.normalize.spreadsheet import is_scientific_notation
from adm_ingest.record_rules import AMAZON_RULES, RecordRules
from adm_ingest.records import ConsentSignals, PreparedRecord, Reason, Rejection

_NO_CONSENT = ConsentSignals()
_Context = tuple[str, ConsentSignals]
"""A record's resolved country and consent signals."""
_CONTEXT_FIELDS = frozenset({"country", *CONSENT_FIELDS})
"""The attributes a record's context depends on (besides the policy and the defaults)."""
_Column = tuple[int, str, Hasher]
"""A PII column as :meth:`Preparer.prepare` works it: (index, field, its hasher)."""
_Plan = tuple[
    RecordLayout,
    tuple[tuple[int, str], ...],
    tuple[tuple[_Column, ...], ...],
    _Context | Rejection | None,
    bool,
]
"""What :meth:`Preparer.prepare` needs of a layout (see :meth:`Preparer._plan`)."""
_REPEATING_FIELDS = frozenset({"first_name", "last_name", "city", "state", "postal"})
_MEMO_ENTRIES = 25_000
"""Bound on each repeating field's memo, all countries together. Worst case, all memos full:
5 fields × 25,000 entries of ~250 bytes ≈ 30 MB — memory stays flat in file size, and 25,000
holds the frequent names, cities and ZIPs of a CRM file."""
_MAX_PLANS = 256
"""Bound on the layouts whose plans a preparer keeps (a layout per distinct header)."""
_MAX_CONSENT_OBJECTS = 4096
"""Bound on the distinct signals objects a preparer counts before it classifies them (only
per-person GPP strings get there; a file otherwise repeats a handful of combinations)."""


class Preparer:
    """Turns the records of blocks — fields by position, through the plan's
    :class:`~adm_ingest.mapping.RecordLayout` for their header — into prepared ones under one
    consent policy and one destination's :class:`~adm_ingest.record_rules.RecordRules`.

    Where countries and consent came from is counted without a measurable cost per record: a
    record whose context is computed for it (:meth:`_context`) is counted there; the records
    of a layout with no country or consent column all share one context, and their caller
    counts them in bulk (:meth:`take_country_counts`, :meth:`take_consent_counts`).
    """

    __slots__ = (
        "_consent_objects",
        "_consent_sources",
        "_consents",
        "_declared_hashers",
        "_defaulted",
        "_hashers",
        "_last_consent",
        "_last_consent_run",
        "_last_plan",
        "_mapping_default",
        "_own_countries",
        "_plans",
        "_shared_consent",
        "_shared_country",
        "contexts",
        "notes",
        "policy",
        "rules",
    )

    def __init__(self, policy: ConsentPolicy, rules: RecordRules = AMAZON_RULES) -> None:
        self.policy = policy
        self.rules = rules
        self.contexts = 0
        """Records whose context was computed for them (every other prepared record shared its
        layout's context)."""
        self._own_countries: dict[str, int] = {}
        """Records with a country of their own, by country."""
        self._defaulted = 0
        """Records (with a context of their own) that took the policy's default country."""
        self._mapping_default = policy.country_source == CountrySource.MAPPING_DEFAULT
        self._shared_country: tuple[bool, str] | None = None
        """(counts as the record's own, country) of the records sharing a layout's context."""
        self._last_consent: ConsentSignals | None = None
        self._last_consent_run = 0
        """Records with a context of their own and resolved consent are counted by their
        signals object, which the policy repeats (one per combination of values; in most
        files a few, one far ahead of the rest): first as a run of the same object as the
        record before — one identity test per record — then, when another object comes,
        into :attr:`_consents`. Classified only when taken (:meth:`take_consent_counts`)."""
        self._consents: dict[int, int] = {}
        """Records by ``id()`` of their signals object: an int key hashes for nothing (a
        dataclass's ``__hash__`` is a Python call)."""
        self._consent_objects: dict[int, ConsentSignals] = {}
        """The signals objects counted in :attr:`_consents`, held so that no id is reused."""
        self._consent_sources: dict[str, int] = {}
        """Counts of :attr:`_consents` already classified (when it outgrew its bound)."""
        self._shared_consent: str | None = None
        """Where the consent of the records sharing a layout's context came from (a
        ``consent.ConsentSource``; ``None``: they are rejected, or the rules take none)."""
        self.notes: Counter[str] = Counter()
        """File-level observations for the report's hints, by code: ``insufficient_pii_set``
        (a names-only set dropped beside a matchable one), ``phone_mangled_by_spreadsheet`` (a
        phone in scientific notation left out of a record sent on other identifiers),
        ``known_empty_hash`` (a pre-hashed value that is the hash of "" or a placeholder)."""
        # Field → its hasher; those of the repeating fields remember what they hashed.
        self._hashers: dict[str, Hasher] = {
            name: _memoized(hasher) if name in _REPEATING_FIELDS else hasher
            for name, hasher in rules.hashers.items()
        }
        self._declared_hashers = rules.declared_hashers
        # Plans by layout, and the last one used (a file's records nearly all share it).
        self._plans: dict[RecordLayout, _Plan] = {}
        self._last_plan: _Plan | None = None

    def prepare(
        self, line: int, fields: list[str], layout: RecordLayout
    ) -> PreparedRecord | Rejection:
        """The record at ``line`` whose values are ``fields``, in the columns of the header
        ``layout`` was made for (:meth:`~adm_ingest.mapping.MappingPlan.layout_for`)."""
        plan = self._last_plan
        if plan is None or plan[0] is not layout:
            plan = self._plans.get(layout) or self._plan(layout)
            self._last_plan = plan
        _, columns, pii_sets, context, judge_sets = plan
        attributes = layout.defaults.copy()
        for index, name in columns:
            value = fields[index].strip()
            if value:  # an empty value is no value
                attributes[name] = value
        if context is None:  # the record has its own country or consent columns
            context = self._context(line, attributes)
        if type(context) is Rejection:
            return Rejection(line, context.reason, context.detail)
        country, consent = context
        hashed_sets: list[dict[str, str]] = []
        invalid: tuple[str, ...] = ()  # nearly always stays empty: no list per record
        dropped = 0
        for pii_columns in pii_sets:
            hashed: dict[str, str] = {}
            for index, name, hasher in pii_columns:
                value = fields[index].strip()
                if not value:  # an empty value is no value
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
            # variable, slowing every read of it above (~500 instructions a record).
            reason = self._shortfall(hashed_sets, invalid, dropped, _pii_values(fields, pii_sets))
            return PreparedRecord(line, country, hashed_sets, consent, attributes, invalid, reason)
        return PreparedRecord(line, country, hashed_sets, consent, attributes, invalid)

    def _plan(self, layout: RecordLayout) -> _Plan:
        """The layout's attribute and PII columns of the fields the rules take, the PII ones
        with their hashers; when it has no country or consent column, the context all its
        records share; and whether a set of its can hold only fields that are unmatchable
        alone — not when every PII column is an email or a phone, as in the usual email-only
        file (made once per layout)."""
        takes = self.rules.takes
        attributes = tuple((index, name) for index, name in layout.attributes if takes(name))
        pii_sets = tuple(
            tuple(
                (
                    index,
                    name,
                    self._declared_hashers[name] if declared else self._hashers[name],
                )
                for index, name, declared in pii_set
                if takes(name)
            )
            for pii_set in layout.pii_sets
        )
        pii_sets = tuple(columns for columns in pii_sets if columns)
        shared = None
        if _CONTEXT_FIELDS.isdisjoint(name for _, name in attributes):
            shared = self._shared_context(dict(layout.defaults))
        judge_sets = not all(
            is_matchable((name,)) for columns in pii_sets for _, name, _ in columns
        )
        if len(self._plans) >= _MAX_PLANS:
            self._plans.clear()
        plan = self._plans[layout] = (layout, attributes, pii_sets, shared, judge_sets)
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
        if not self.rules.requires_consent:
            return country, _NO_CONSENT
        try:
            signals = policy.signals_of(attributes, country, self.rules.consent_countries)
        except ConsentError as error:
            return Rejection(line, error.reason, error.detail)
        if signals is self._last_consent:
            self._last_consent_run += 1
        else:
            self._end_consent_run()
            self._last_consent = signals
            self._last_consent_run = 1
        return country, signals

    def _end_consent_run(self) -> None:
        """Add the run of records with the last signals object to the counts by object."""
        last, run = self._last_consent, self._last_consent_run
        if last is None or not run:
            return
        self._last_consent_run = 0
        key = id(last)
        counts = self._consents
        if key in counts:
            counts[key] += run
            return
        if len(counts) >= _MAX_CONSENT_OBJECTS:
            self._classify_consents()
        counts[key] = run
        self._consent_objects[key] = last

    def _classify_consents(self) -> None:
        """Fold the counts by signals object into counts by their
        :class:`~adm_ingest.consent.ConsentSource`."""
        sources = self._consent_sources
        source_of = self.policy.consent_source_of
        objects = self._consent_objects
        for key, count in self._consents.items():
            source = source_of(objects[key]).value
            sources[source] = sources.get(source, 0) + count
        self._consents.clear()
        objects.clear()

    def _shared_context(self, attributes: dict[str, str]) -> _Context | Rejection:
        """The context every record of a layout without country or consent columns shares. Its
        records are not counted here but in bulk by the caller (:meth:`take_country_counts`,
        :meth:`take_consent_counts`); this remembers which country they take and whether it
        counts as their own (the defaults may name a country the policy doesn't, exactly as in
        :meth:`_context`), and where their consent came from (their signals are the defaults'
        own values, so ``mapping_default`` or ``none``)."""
        policy = self.policy
        self._shared_consent = None
        try:
            country = policy.country_of(attributes)
        except ConsentError as error:
            self._shared_country = None
            return Rejection(0, error.reason, error.detail)  # lines are the record's
        own = "country" in attributes and (country != policy.country or not self._mapping_default)
        self._shared_country = (own, country)
        if not self.rules.requires_consent:
            return country, _NO_CONSENT
        try:
            signals = policy.signals_of(attributes, country, self.rules.consent_countries)
        except ConsentError as error:
            return Rejection(0, error.reason, error.detail)
        self._shared_consent = policy.consent_source_of(signals).value
        return country, signals

    def take_country_counts(self, shared_records: int) -> tuple[dict[str, int], dict[str, int]]:
        """Records by country source and by country, of those whose country was resolved
        since the last call (whatever happened to them next: a missing consent, no
        identifier…); the counts start again from zero.

        ``shared_records`` is the number of records prepared with a layout's shared context — the
        caller knows it in bulk (records read minus those with a context of their own minus
        the reader's rejections)."""
        countries, self._own_countries = self._own_countries, {}
        defaulted, self._defaulted = self._defaulted, 0
        if shared_records and self._shared_country is not None:
            own, country = self._shared_country
            if own:
                countries[country] = countries.get(country, 0) + shared_records
            else:
                defaulted += shared_records
        sources: dict[str, int] = {}
        if countries:
            sources[CountrySource.RECORD.value] = sum(countries.values())
        if defaulted:
            source = str(self.policy.country_source)
            sources[source] = defaulted
            countries[self.policy.country] = countries.get(self.policy.country, 0) + defaulted
        return sources, countries

    def take_consent_counts(self, shared_records: int) -> dict[str, int]:
        """Records by :class:`~adm_ingest.consent.ConsentSource`, of those whose consent was
        resolved since the last call; the counts start again from zero. Records rejected for
        their consent (or their country, before it) are not counted; nor is anything when the
        rules take no consent.

        ``shared_records``: as for :meth:`take_country_counts` (the same number)."""
        self._end_consent_run()
        self._classify_consents()
        sources, self._consent_sources = self._consent_sources, {}
        if shared_records and self._shared_consent is not None:
            shared = self._shared_consent
            sources[shared] = sources.get(shared, 0) + shared_records
        return dict(sorted(sources.items()))


def _pii_values(
    fields: list[str], pii_sets: tuple[tuple[_Column, ...], ...]
) -> Iterator[tuple[str, str]]:
    """A record's PII as (field, raw value)."""
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
