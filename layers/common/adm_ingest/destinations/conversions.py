"""Offline conversion events: ``POST /accounts/{accountId}/dsp/conversionDefinitions/eventData``.

Values are read by :mod:`adm_ingest.values` with the file's :class:`ParseOptions` — exactly, or
rejected with a reason, never guessed (``1,234`` without a ``decimal`` option is
``ambiguous_value``; ``03/04/2026`` without a ``date_order`` is ``ambiguous_timestamp``).

Negative values: the API allows them only for non-purchase definitions (a "scale of your
choosing"); for OFF_AMAZON_PURCHASES the value "must be a minimum of 0". A negative amount that
is certainly money — written with a currency symbol/code, or with a currency column — is a
refund or a correction, never a purchase, so it is rejected ``negative_value``. A bare
negative number with no currency is sent (a non-monetary scale may be negative; ADM checks it
against the definition's type).

Currency: the currency column, else the one the value's own marker names (``€45`` → EUR). A
marker shared by several currencies (``$``, ``¥``, ``kr``) names none: the value is sent
without ``currencyCode``, and ADM applies the conversion definition's currency — as for a bare
number. Those are counted in ``notes["currency_symbol_ambiguous"]``.

Times without a zone and no ``timezone`` option are read as UTC and counted in
``notes["naive_timestamp_as_utc"]``; values whose day/month order only their digits decided,
in the other order than the file's first such value, in ``notes["date_order_mixed"]``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from adm_ingest import registry
from adm_ingest.adm import AdmClient
from adm_ingest.batching import Body, WireFormat
from adm_ingest.destinations.adm import AdmDestination, error_reason
from adm_ingest.destinations.base import BatchPosition, Delivery, DeliveryTarget, FileSession
from adm_ingest.destinations.routes import RoutePattern
from adm_ingest.identifiers import clean_id
from adm_ingest.records import MATCH_KEY_TYPES, PreparedRecord, Reason, Rejection
from adm_ingest.values import (
    MINOR_UNITS,
    ParsedTimestamp,
    ParseOptions,
    ValueProblem,
    parse_money,
    parse_timestamp,
    parse_units,
)
from adm_ingest.values.options import zone_info

EVENTS_PER_REQUEST = 100
MAX_MATCH_KEYS = 9
MAX_EVENT_AGE = timedelta(days=7)
#: Clock skew tolerated before an event counts as "in the future".
FUTURE_SKEW = timedelta(minutes=5)
EVENT_SOURCE = "SERVER_TO_SERVER"
#: ADM's ``currencyCode`` enum (the currencies whose minor units the values package knows).
CURRENCIES = frozenset(MINOR_UNITS)
_VALUE_LIMIT = Decimal("9999999999999.99")
_UNITS_LIMIT = 9999999999999


def format_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


class ConversionEvents(AdmDestination):
    """One event per record into the conversion definition the file's prefix names."""

    name: ClassVar[str] = "conversions"
    route: ClassVar[RoutePattern] = RoutePattern("conversions/{name}/")
    namespace: ClassVar[str | None] = registry.CONVERSION_DEFINITION
    target_label: ClassVar[str] = "conversion definition"
    wire: ClassVar[WireFormat] = WireFormat(
        b'{"source":"' + EVENT_SOURCE.encode() + b'","eventData":[',
        b"]}",
        max_items=EVENTS_PER_REQUEST,
    )

    def __init__(
        self,
        target: DeliveryTarget,
        options: ParseOptions | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(target, options, clock=clock)
        self._zone = zone_info(self.options.timezone) if self.options.timezone else None
        self._first_date_order: str | None = None

    def build(self, record: PreparedRecord) -> dict[str, Any] | Rejection:
        attributes = record.attributes
        line = record.line
        if (attributes.get("data_processing") or "").strip().upper() == "LIMITED_DATA_USE":
            return Rejection(line, Reason.LIMITED_DATA_USE, "LIMITED_DATA_USE events are not sent")
        raw_time = attributes.get("timestamp")
        if not raw_time or not raw_time.strip():
            return Rejection(line, Reason.MISSING_TIMESTAMP, "no event timestamp")
        parsed = parse_timestamp(raw_time, timezone=self._zone, date_order=self.options.date_order)
        if type(parsed) is ValueProblem:
            return Rejection(line, parsed.reason, f"timestamp: {parsed.detail}")
        self._observe(parsed)
        moment = parsed.moment
        now = self.clock()
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
        currency: str | None = None
        if raw_currency := attributes.get("currency"):  # first: the value's symbol must agree
            currency = raw_currency.strip().upper()
            if currency not in CURRENCIES:
                return Rejection(line, Reason.INVALID_CURRENCY, "unsupported currency code")
        if raw_value := attributes.get("value"):
            money = parse_money(raw_value, currency=currency, decimal=self.options.decimal)
            if type(money) is ValueProblem:
                return Rejection(line, money.reason, f"value: {money.detail}")
            if money.currency is not None and money.currency not in CURRENCIES:
                return Rejection(line, Reason.INVALID_CURRENCY, "unsupported currency")
            if money.amount < 0 and (money.marked or money.currency):
                return Rejection(
                    line, Reason.NEGATIVE_VALUE, "value: negative money (a refund?) is not sent"
                )
            if abs(money.amount) > _VALUE_LIMIT:
                return Rejection(line, Reason.INVALID_VALUE, "value: beyond the API's limit")
            event["value"] = float(money.amount) + 0.0  # + 0.0: never a "-0.0"
            currency = money.currency
            if money.ambiguous_marker:
                self.notes["currency_symbol_ambiguous"] += 1
        if currency:
            event["currencyCode"] = currency
        if raw_units := attributes.get("units"):
            units = parse_units(raw_units, decimal=self.options.decimal)
            if type(units) is ValueProblem:
                return Rejection(line, units.reason, f"units: {units.detail}")
            if not 1 <= units <= _UNITS_LIMIT:
                return Rejection(line, Reason.INVALID_UNITS, "units must be a positive integer")
            event["unitsSold"] = units
        event["clientDedupeId"] = dedupe_id or _derived_dedupe_id(event)
        return event

    def _observe(self, parsed: ParsedTimestamp) -> None:
        """Count what the report should warn about (whether or not the event is then sent: a
        naive time read as UTC may be what made it look "in the future")."""
        if parsed.assumed_utc:
            self.notes["naive_timestamp_as_utc"] += 1
        if order := parsed.date_order:
            if self._first_date_order is None:
                self._first_date_order = order
            elif order != self._first_date_order:
                self.notes["date_order_mixed"] += 1

    def _send(
        self, client: AdmClient, body: Body, session: FileSession, position: BatchPosition
    ) -> Delivery:
        assert isinstance(body, bytes), "ADM bodies are built in memory"
        result = client.ingest_conversion_events(body)
        return Delivery(
            status=207,
            rejected={error.index: error_reason(error.code) for error in result.errors},
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
