"""The small set of types every stage of the pipeline speaks.

A record travels: reader (a :class:`~adm_ingest.readers.RecordBlock` row: raw fields under a
header) → mapping (the plan's :class:`~adm_ingest.mapping.RecordLayout` for that header: which
field is where) → preparation (:class:`PreparedRecord`, hashed identifiers + consent) →
destination (one JSON item of an API request body). Every stage may instead produce a
:class:`Rejection`, which carries the record's line number and a stable reason code — never
the offending value, so rejections are safe to log and to write to a report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import final


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
    INVALID_CONSENT = "invalid_consent"
    INVALID_COUNTRY = "invalid_country"
    UNSUPPORTED_COUNTRY = "unsupported_country"
    """A real country, but not one ADM's countryCode enum accepts: never sent as another."""
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
    RECORD_TOO_LARGE = "record_too_large"
    DUPLICATE_IN_FILE = "duplicate_in_file"
    """The same request item (byte for byte: same externalUserId, identity, consent and
    action — or the same event) as an earlier record of its chunk: sent once, with the first."""
    TOO_DEEP = "too_deep"
    """A JSON record (a line, an array element) nested deeper than ``MAX_JSON_DEPTH``: read
    without being built, so a hostile nesting costs no memory."""
    INVALID_XDM = "invalid_xdm"
    """A row that does not fit its AEP dataset's XDM schema (detail: ``<path> <rule>``): never
    uploaded."""
    REPORT_FOOTER = "report_footer"
    """A CRM report's footer or blank trailer line: not a record. Counted in
    ``Tally.skipped``, never as a rejected person."""


@final  # final, so that `type(x) is Rejection` (the hot path's test) narrows
@dataclass(slots=True, frozen=True)
class Rejection:
    """A record that will not be sent. ``detail`` must never contain a raw value."""

    line: int
    reason: str
    detail: str = ""


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
"""Canonical PII field → value (SHA-256 hex in a PreparedRecord)."""


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
