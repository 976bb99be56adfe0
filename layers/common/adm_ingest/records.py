"""The small set of types every stage of the pipeline speaks.

A record travels: reader (:class:`SourceRecord`, raw columns) → mapping (:class:`MappedRecord`,
canonical fields) → preparation (:class:`PreparedRecord`, hashed identifiers + consent) →
destination (one JSON item of an API request body). Every stage may instead produce a
:class:`Rejection`, which carries the record's line number and a stable reason code — never
the offending value, so rejections are safe to log and to write to a report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Reason(StrEnum):
    """Stable rejection reason codes (they appear in reports and rejects files)."""

    MALFORMED_RECORD = "malformed_record"
    UNDECODABLE_BYTES = "undecodable_bytes"
    WRONG_FIELD_COUNT = "wrong_field_count"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    NO_IDENTIFIER = "no_identifier"
    """Nothing at all to identify the person by."""
    INSUFFICIENT_IDENTIFIER = "insufficient_identifier"
    """Only identifiers Amazon cannot match a person on alone (names, city, state, postal
    code without a street address): see :mod:`adm_ingest.identifiers`."""
    MANGLED_BY_SPREADSHEET = "mangled_by_spreadsheet"
    """An id (or the only phone) is in spreadsheet scientific notation (``7.01234E+12``): its
    digits are lost."""
    MISSING_CONSENT = "missing_consent"
    MISSING_AMAZON_CONSENT = "missing_amazon_consent"
    INVALID_CONSENT = "invalid_consent"
    INVALID_COUNTRY = "invalid_country"
    UNSUPPORTED_COUNTRY = "unsupported_country"
    """A real country, but not one ADM's countryCode enum accepts: never sent as another."""
    MISSING_COUNTRY = "missing_country"
    INVALID_ACTION = "invalid_action"
    MISSING_TIMESTAMP = "missing_timestamp"
    INVALID_TIMESTAMP = "invalid_timestamp"
    TIMESTAMP_TOO_OLD = "timestamp_too_old"
    TIMESTAMP_IN_FUTURE = "timestamp_in_future"
    AMBIGUOUS_TIMESTAMP = "ambiguous_timestamp"
    """Day and month can't be told apart (``03/04/2026``) and no ``date_order`` says which,
    or a local time that occurs twice in the file's timezone (DST fall-back)."""
    INVALID_VALUE = "invalid_value"
    AMBIGUOUS_VALUE = "ambiguous_value"
    """Money or units that can't be read unambiguously (``1,234``: thousands or decimals?)."""
    NEGATIVE_VALUE = "negative_value"
    """A negative amount of money (a refund?): ADM takes purchase values ≥ 0 only."""
    CURRENCY_MISMATCH = "currency_mismatch"
    """The amount's currency symbol or code disagrees with the currency column."""
    INVALID_CURRENCY = "invalid_currency"
    INVALID_UNITS = "invalid_units"
    LIMITED_DATA_USE = "limited_data_use"
    TOO_MANY_MATCH_KEYS = "too_many_match_keys"
    RECORD_TOO_LARGE = "record_too_large"
    DUPLICATE_IN_FILE = "duplicate_in_file"
    """The same request item (byte for byte: same externalUserId, identity, consent and
    action — or the same event) as an earlier record of its chunk: sent once, with the first."""
    TOO_DEEP = "too_deep"
    """A JSON record (a line, an array element) nested deeper than ``MAX_JSON_DEPTH``: read
    without being built, so a hostile nesting costs no memory."""
    REPORT_FOOTER = "report_footer"
    """A CRM report's footer or blank trailer line: not a record. Counted in
    ``Tally.skipped``, never as a rejected person."""


@dataclass(slots=True, frozen=True)
class Rejection:
    """A record that will not be sent. ``detail`` must never contain a raw value."""

    line: int
    reason: str
    detail: str = ""


@dataclass(slots=True)
class SourceRecord:
    """One record as read from the file: column name → raw string value.

    ``line`` is the 1-based physical line (CSV / JSON Lines) or the 1-based element number
    (top-level JSON array) where the record starts.
    """

    line: int
    values: dict[str, str] = field(repr=False)  # raw PII: never in a repr / traceback


# Canonical PII field names (the keys of a PII set) and their ADM / matchKey spellings.
PII_FIELDS: tuple[str, ...] = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "address",
    "city",
    "state",
    "postal",
)
ADM_PII_KEYS: dict[str, str] = {
    "email": "em",
    "phone": "ph",
    "first_name": "fn",
    "last_name": "ln",
    "address": "ad",
    "city": "cty",
    "state": "st",
    "postal": "zip",
}
MATCH_KEY_TYPES: dict[str, str] = {
    "email": "EMAIL",
    "phone": "PHONE",
    "first_name": "FIRST_NAME",
    "last_name": "LAST_NAME",
    "address": "ADDRESS",
    "city": "CITY",
    "state": "STATE",
    "postal": "POSTAL",
}

PiiSet = dict[str, str]
"""Canonical PII field → value (raw in a MappedRecord, SHA-256 hex in a PreparedRecord)."""


@dataclass(slots=True)
class MappedRecord:
    """A record in canonical fields.

    ``attributes`` holds the non-PII canonical fields (external_id, country, ip, gpp, tcf,
    amzn_ad_storage, amzn_user_data, action, timestamp, value, currency, units, dedupe_id,
    maid, ramp_id, event_name, data_processing). ``pii_sets`` holds one raw PII set per
    person-identity (``email``/``email_2`` … → sets 0, 1, …); empty sets are dropped.
    ``hashed`` names the (set index, field) pairs whose column was declared already hashed.
    """

    line: int
    attributes: dict[str, str] = field(repr=False)  # raw values (ip…): never in a repr
    pii_sets: list[PiiSet] = field(repr=False)  # raw PII: never in a repr / traceback
    hashed: frozenset[tuple[int, str]] = frozenset()


@dataclass(slots=True, frozen=True)
class ConsentSignals:
    """Consent as it will be sent; ``None`` means the signal is absent."""

    gpp: str | None = None
    tcf: str | None = None
    amzn_ad_storage: str | None = None
    amzn_user_data: str | None = None

    @property
    def any(self) -> bool:
        return bool(self.gpp or self.tcf or self.amzn_ad_storage or self.amzn_user_data)


@dataclass(slots=True)
class PreparedRecord:
    """A record ready for a destination: identifiers hashed, country and consent resolved.

    Holds no raw PII except the optional IP address (sent as-is for country resolution)
    and the already-opaque external ids (external_id, maid, ramp_id). ``hashed_sets`` holds
    only the sets Amazon can match on (:func:`adm_ingest.identifiers.is_matchable`).
    """

    line: int
    country: str
    hashed_sets: list[PiiSet]
    consent: ConsentSignals
    attributes: dict[str, str] = field(default_factory=dict, repr=False)  # raw (ip…)
    invalid_fields: tuple[str, ...] = ()
    """PII fields that were present but empty/invalid after normalization (omitted)."""
    no_identity_reason: str = Reason.NO_IDENTIFIER
    """Why to reject the record if a destination finds nothing in it to send it on (no hashed
    set, no external identity, no usable id): :attr:`Reason.NO_IDENTIFIER`, or
    :attr:`Reason.INSUFFICIENT_IDENTIFIER` when PII sets were dropped as unmatchable, or
    :attr:`Reason.MANGLED_BY_SPREADSHEET` when a phone in scientific notation was what it
    lacked. Set by the preparer, read only on that rejection branch."""
