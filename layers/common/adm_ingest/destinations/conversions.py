"""Offline conversion events: ``POST /accounts/{accountId}/dsp/conversionDefinitions/eventData``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, ClassVar

from adm_ingest.destinations.base import AdmApi, Delivery, Destination, Target, error_reason
from adm_ingest.identifiers import clean_id
from adm_ingest.model import MATCH_KEY_TYPES, Kind, PreparedRecord, Reason, Rejection

EVENTS_PER_REQUEST = 100
MAX_MATCH_KEYS = 9
MAX_EVENT_AGE = timedelta(days=7)
#: Clock skew tolerated before an event counts as "in the future".
FUTURE_SKEW = timedelta(minutes=5)
EVENT_SOURCE = "SERVER_TO_SERVER"
CURRENCIES = frozenset(
    "AED AUD BRL CAD CNY DKK EUR GBP INR JPY MXN NOK NZD SAR SEK SGD TRY USD".split()
)
_CENT = Decimal("0.01")
_VALUE_LIMIT = Decimal("9999999999999.99")


def parse_timestamp(value: str) -> datetime | None:
    """An aware datetime from ISO 8601 (``Z`` or offset; naive means UTC) or epoch seconds /
    milliseconds; None when unparseable."""
    text = value.strip()
    if not text:
        return None
    if text.lstrip("-").replace(".", "", 1).isdigit():
        number = float(text)
        if number > 1e11:  # milliseconds
            number /= 1000
        try:
            return datetime.fromtimestamp(number, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        parsed = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


class ConversionEvents(Destination):
    """One event per record into the conversion definition the file's prefix names."""

    kind: ClassVar[Kind] = Kind.CONVERSIONS
    content_type: ClassVar[str] = "application/vnd.dspconversioneventimport.v1+json"
    max_items: ClassVar[int] = EVENTS_PER_REQUEST

    def __init__(self, target: Target, *, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(target)
        self._clock = clock or (lambda: datetime.now(UTC))

    def envelope(self) -> tuple[bytes, bytes]:
        return b'{"source":"' + EVENT_SOURCE.encode() + b'","eventData":[', b"]}"

    def build(self, record: PreparedRecord) -> dict[str, Any] | Rejection:
        attributes = record.attributes
        line = record.line
        if (attributes.get("data_processing") or "").strip().upper() == "LIMITED_DATA_USE":
            return Rejection(line, Reason.LIMITED_DATA_USE, "LIMITED_DATA_USE events are not sent")
        raw_time = attributes.get("timestamp")
        if not raw_time:
            return Rejection(line, Reason.MISSING_TIMESTAMP, "no event timestamp")
        moment = parse_timestamp(raw_time)
        if moment is None:
            return Rejection(line, Reason.INVALID_TIMESTAMP, "timestamp is not ISO 8601 or epoch")
        now = self._clock()
        if moment < now - MAX_EVENT_AGE:
            return Rejection(line, Reason.TIMESTAMP_TOO_OLD, "event is older than 7 days")
        if moment > now + FUTURE_SKEW:
            return Rejection(line, Reason.TIMESTAMP_IN_FUTURE, "event is in the future")

        match_keys = _match_keys(record)  # the preparer kept only PII sets that can match
        if not match_keys:
            return Rejection(line, record.no_identity_reason, "no usable identifier")
        dedupe_id = attributes.get("dedupe_id")
        if dedupe_id and (dedupe_id := clean_id(dedupe_id)) is None:
            return Rejection(line, Reason.MANGLED_BY_SPREADSHEET, "id is in scientific notation")
        event: dict[str, Any] = {
            "name": attributes.get("event_name") or self.target.name,
            "conversionDefinitionId": self.target.id,
            "countryCode": record.country,
            "timestamp": format_timestamp(moment),
            "matchKeys": match_keys,
        }
        if raw_value := attributes.get("value"):
            value = _money(raw_value)
            if value is None:
                return Rejection(line, Reason.INVALID_VALUE, "value is not a number")
            event["value"] = value
        if raw_currency := attributes.get("currency"):
            currency = raw_currency.strip().upper()
            if currency not in CURRENCIES:
                return Rejection(line, Reason.INVALID_CURRENCY, "unsupported currency code")
            event["currencyCode"] = currency
        if raw_units := attributes.get("units"):
            units = _whole_number(raw_units)
            if units is None or units < 1:
                return Rejection(line, Reason.INVALID_UNITS, "units must be a positive integer")
            event["unitsSold"] = units
        event["clientDedupeId"] = dedupe_id or _derived_dedupe_id(event)
        return event

    def send(self, client: AdmApi, body: bytes) -> Delivery:
        result = client.ingest_conversion_events(body)
        return Delivery(
            status=207,
            rejected={error.index: error_reason(error.code) for error in result.errors},
            request_id=getattr(result, "request_id", None),
        )


def _match_keys(record: PreparedRecord) -> list[dict[str, Any]]:
    """Primary PII set first, then device / RampIDs (sent as-is, not hashed), then any further
    PII sets — capped at the API's 9 keys, so the strongest identifiers always make it."""
    sets = record.hashed_sets
    primary = sets[0] if sets else {}
    keys = [{"type": MATCH_KEY_TYPES[n], "values": [d]} for n, d in primary.items()]
    for attribute, key_type in (("maid", "MAID"), ("ramp_id", "RAMP_ID")):
        if raw := record.attributes.get(attribute):
            keys.append({"type": key_type, "values": [raw]})
    for hashed in sets[1:]:
        keys.extend({"type": MATCH_KEY_TYPES[n], "values": [d]} for n, d in hashed.items())
    return keys[:MAX_MATCH_KEYS]


def _whole_number(raw: str) -> int | None:
    """``"3"`` or ``"3.0"`` → 3; a fraction (``"2.7"``) or text → None (never truncated)."""
    try:
        number = Decimal(raw.strip())
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or number != number.to_integral_value():
        return None
    return int(number)


def _money(raw: str) -> float | None:
    try:
        value = Decimal(raw.strip().replace(",", "")).quantize(_CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite() or abs(value) > _VALUE_LIMIT:
        return None
    return float(value)


def _derived_dedupe_id(event: dict[str, Any]) -> str:
    """Deterministic from the event's content, so re-uploading a file never double counts."""
    parts = [
        event["conversionDefinitionId"],
        event["timestamp"],
        *sorted(f"{k['type']}={k['values'][0]}" for k in event["matchKeys"]),
        str(event.get("value", "")),
        str(event.get("unitsSold", "")),
    ]
    return "d-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]
