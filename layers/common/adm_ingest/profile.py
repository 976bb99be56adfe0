"""Does the data look like the country it will be sent as? A profile of a file's first records.

A record with no country of its own is sent under a default (the mapping's, the audience's or
the deployment's). When a large share of those records carry hints of another country — a
phone number written with another calling code (``+44 …`` under a US default), an email
domain under another country's top-level domain (``.de``, ``.co.uk``), a postcode that can't
be the default country's (``SW1A 1AA`` under US) — the file probably belongs to another
audience, or needs a country column. The splitter (and the dry-run) profile a bounded sample
once per file; the report warns, or with ``"strict_country": true`` the file is refused.

Thresholds: the sample is the first :data:`SAMPLE_RECORDS` records (at most
:data:`SAMPLE_BYTES` of a range-read file); the data *looks foreign* when at least
:data:`FOREIGN_MIN_RECORDS` of the sampled records that took the default country, and at least
:data:`FOREIGN_SHARE` of them, have a hint. A profile holds counts and country codes only,
never a value.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from adm_ingest.countries import ADM_COUNTRY_CODES
from adm_ingest.mapping import MappingPlan
from adm_ingest.readers import ReadItem, RecordBlock

SAMPLE_RECORDS = 1000
SAMPLE_BYTES = 1 << 20
FOREIGN_SHARE = 0.2
FOREIGN_MIN_RECORDS = 5
MAX_HEADER_COLUMNS = 1000
"""Bound on the column names taken from a JSON sample's keys."""

PHONE_CALLING_CODE = "phone_calling_code"
EMAIL_COUNTRY_DOMAIN = "email_country_domain"
POSTCODE_SHAPE = "postcode_shape"
HINT_KINDS = (PHONE_CALLING_CODE, EMAIL_COUNTRY_DOMAIN, POSTCODE_SHAPE)

# Country-code top-level domains that are widely used as generic names (.io, .co, .tv…) say
# nothing about where a person lives.
_GENERIC_CCTLDS = frozenset(
    "ac ag ai am bz cc cf co fm ga gg gl gq gs im io la ly md me ml ms nu pw sh so tk to tv "
    "vc ws".split()
)
#: Top-level domain → the ISO country it points to (``None``: a region, ``.eu``).
CCTLD_COUNTRIES: dict[str, str | None] = {
    **{code.lower(): code for code in ADM_COUNTRY_CODES if code.lower() not in _GENERIC_CCTLDS},
    "uk": "GB",
    "eu": None,
}

_SPACES = re.compile(r"\s+")
_US = re.compile(r"\d{5}(?:-?\d{4})?")
_CA = re.compile(r"[A-Z]\d[A-Z] ?\d[A-Z]\d")
_GB = re.compile(r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}")
_NL = re.compile(r"\d{4} ?[A-Z]{2}")
_JP = re.compile(r"\d{3}-\d{4}")
_FIVE_DIGITS = re.compile(r"\d{5}")
_FOUR_DIGITS = re.compile(r"\d{4}")
_SIX_DIGITS = re.compile(r"\d{6}")
_POSTCODES: dict[str, tuple[re.Pattern[str], ...]] = {
    # A US ZIP that lost its leading zero in a spreadsheet (02134 → 2134) is far more common
    # than a foreign 4-digit postcode, so 4 digits are accepted under US, not a hint.
    "US": (_US, _FOUR_DIGITS),
    "CA": (_CA,),
    "GB": (_GB,),
    "NL": (_NL,),
    "DE": (_FIVE_DIGITS,),
    "FR": (_FIVE_DIGITS,),
    "ES": (_FIVE_DIGITS,),
    "IT": (_FIVE_DIGITS,),
    "JP": (_JP, re.compile(r"\d{7}")),
    "IN": (_SIX_DIGITS,),
    "AT": (_FOUR_DIGITS,),
    "BE": (_FOUR_DIGITS,),
    "CH": (_FOUR_DIGITS,),
    "DK": (_FOUR_DIGITS,),
    "AU": (_FOUR_DIGITS,),
}
"""Postcode shapes of the default countries the profile knows (others give no postcode hint)."""
_FOREIGN_POSTCODES: tuple[tuple[re.Pattern[str], str | None], ...] = (
    (_GB, "GB"),
    (_CA, "CA"),
    (_NL, "NL"),
    (_JP, "JP"),
    (_FIVE_DIGITS, None),  # US, DE, FR, ES, IT… : another country, but which one?
    (_FOUR_DIGITS, None),
    (_SIX_DIGITS, None),
)


@dataclass(frozen=True, slots=True)
class CountryProfile:
    """What the sample said: counts by hint kind and hinted country, never a value."""

    default_country: str
    records: int = 0
    """Records sampled."""
    defaulted: int = 0
    """Of those, records that take the default country (no country of their own)."""
    disagreeing: int = 0
    """Of those, records with at least one hint of another country."""
    hints: Mapping[str, int] = field(default_factory=dict)
    """Records with a hint, by kind (a record may have several)."""
    countries: Mapping[str, int] = field(default_factory=dict)
    """Records by the country their hints point to (the five most frequent)."""

    @property
    def looks_foreign(self) -> bool:
        """Enough defaulted records disagree with the default (see the module docstring)."""
        return (
            self.disagreeing >= FOREIGN_MIN_RECORDS
            and self.disagreeing >= FOREIGN_SHARE * self.defaulted
        )

    def to_dict(self) -> dict[str, Any]:
        """The report's ``country_profile`` (integers only: it is stored in DynamoDB)."""
        return {
            "default_country": self.default_country,
            "sampled": self.records,
            "defaulted": self.defaulted,
            "disagreeing": self.disagreeing,
            "hints": dict(self.hints),
            "hinted_countries": dict(self.countries),
            "looks_foreign": self.looks_foreign,
        }


def profile_records(
    items: Iterable[ReadItem],
    plan: MappingPlan,
    default_country: str,
    *,
    limit: int = SAMPLE_RECORDS,
) -> CountryProfile:
    """Profile up to ``limit`` records of a reader's blocks (rejections are skipped) as
    ``plan`` maps them, against ``default_country``."""
    calling_code = phonenumbers.country_code_for_region(default_country)
    postcodes = _POSTCODES.get(default_country)
    sampled = defaulted = disagreeing = 0
    hints: Counter[str] = Counter()
    countries: Counter[str] = Counter()
    for pii_sets in _unmapped_pii(items, plan, limit):
        sampled += 1
        if pii_sets is None:  # the record has a country of its own
            continue
        defaulted += 1
        kinds: set[str] = set()
        pointed: set[str] = set()
        for pii in pii_sets:
            phone, email, postal = pii.get("phone"), pii.get("email"), pii.get("postal")
            if phone and calling_code:
                found = _calling_code(phone)
                if found is not None and found != calling_code:
                    kinds.add(PHONE_CALLING_CODE)
                    region = phonenumbers.region_code_for_country_code(found)
                    if region in ADM_COUNTRY_CODES:
                        pointed.add(region)
            if email:
                domain = email.rpartition("@")[2].rstrip(".").lower()
                tld = domain.rpartition(".")[2]
                if tld in CCTLD_COUNTRIES and CCTLD_COUNTRIES[tld] != default_country:
                    kinds.add(EMAIL_COUNTRY_DOMAIN)
                    country = CCTLD_COUNTRIES[tld]
                    if country is not None:
                        pointed.add(country)
            if postal and postcodes is not None:
                shape = _SPACES.sub(" ", postal.strip().upper())
                if not any(p.fullmatch(shape) for p in postcodes):
                    for pattern, country in _FOREIGN_POSTCODES:
                        if pattern.fullmatch(shape):
                            kinds.add(POSTCODE_SHAPE)
                            if country is not None and country != default_country:
                                pointed.add(country)
                            break
        if kinds:
            disagreeing += 1
            hints.update(kinds)
            countries.update(pointed)
    return CountryProfile(
        default_country,
        sampled,
        defaulted,
        disagreeing,
        {kind: hints[kind] for kind in HINT_KINDS if hints[kind]},
        dict(sorted(countries.most_common(5), key=lambda item: (-item[1], item[0]))),
    )


def strict_country(config: Mapping[str, Any] | None) -> bool:
    """The mapping's ``"strict_country": true``: refuse a file whose data looks foreign.
    Read from the raw config (``MappingConfig.strict_country`` is the same key, validated)."""
    return bool((config or {}).get("strict_country"))


def country_columns(plan: MappingPlan) -> list[str]:
    """The columns the plan reads a record's country from."""
    return [column for column, target in plan.mapped.items() if target.field == "country"]


def header_of(items: Iterable[ReadItem]) -> list[str]:
    """Column names in order of first appearance across sampled blocks (a JSON file's
    "header"), at most :data:`MAX_HEADER_COLUMNS`."""
    names: dict[str, None] = {}
    for item in items:
        if isinstance(item, RecordBlock):
            for name in item.header:
                if len(names) >= MAX_HEADER_COLUMNS:
                    return list(names)
                names.setdefault(name)
    return list(names)


def _unmapped_pii(
    items: Iterable[ReadItem], plan: MappingPlan, limit: int
) -> Iterator[list[dict[str, str]] | None]:
    """Per record of the first ``limit`` (rejections skipped): its PII sets as the plan maps
    them (field → stripped value, the sets with a value), or ``None`` when it has a country
    of its own."""
    count = 0
    for item in items:
        if not isinstance(item, RecordBlock):
            continue
        layout = plan.layout_for(item.header)  # resolves the columns a JSON block brings
        countries = [index for index, name in layout.attributes if name == "country"]
        for fields in item.rows:
            if count >= limit:
                return
            count += 1
            if any(fields[index].strip() for index in countries):
                yield None
                continue
            sets = []
            for columns in layout.pii_sets:
                values = ((name, fields[index].strip()) for index, name, _ in columns)
                pii = {name: value for name, value in values if value}
                if pii:
                    sets.append(pii)
            yield sets


def _calling_code(phone: str) -> int | None:
    """The calling code of a number written internationally (``+44 20 …``), else None.
    Calling codes are prefix-free, so the first 1–3 digits that are one are it."""
    text = phone.strip()
    if not text.startswith("+"):
        return None
    digits = "".join(c for c in text[1:8] if c.isdigit())
    for length in (1, 2, 3):
        code = int(digits[:length]) if len(digits) >= length else None
        if code is not None and code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return code
    return None
