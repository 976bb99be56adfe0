"""Offline conversion events (issue 2, item 6): ``…/dsp/conversionDefinitions/eventData``.

Every test runs against an injected clock, so "7 days old" and "in the future" never depend on
when the suite runs.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from adm_ingest.consent import ConsentPolicy
from adm_ingest.destinations import ConversionEvents, Target
from adm_ingest.destinations.conversions import EVENTS_PER_REQUEST, MAX_MATCH_KEYS
from adm_ingest.mapping import build_plan
from adm_ingest.model import Kind, MappedRecord, PreparedRecord, Reason, Rejection, SourceRecord
from adm_ingest.prepare import Preparer
from adm_ingest.processing import RecordProcessor

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
EVENTS = ConversionEvents(Target(Kind.CONVERSIONS, "Offline purchase", "CD-77"), clock=lambda: NOW)
EMAIL = "jane.doe@example.com"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def prepared(
    attributes: dict[str, str], *pii_sets: dict[str, str], line: int = 2
) -> PreparedRecord:
    result = Preparer(ConsentPolicy(country="US")).prepare(
        MappedRecord(line=line, attributes=attributes, pii_sets=list(pii_sets))
    )
    assert isinstance(result, PreparedRecord), result
    return result


def build(attributes: dict[str, str], *pii_sets: dict[str, str]) -> dict[str, Any] | Rejection:
    pii = pii_sets or ({"email": EMAIL},)
    return EVENTS.build(prepared({"timestamp": "2026-11-26T10:00:00Z", **attributes}, *pii))


def event(attributes: dict[str, str], *pii_sets: dict[str, str]) -> dict[str, Any]:
    result = build(attributes, *pii_sets)
    assert isinstance(result, dict), result
    return result


def reason(attributes: dict[str, str], *pii_sets: dict[str, str]) -> str:
    result = build(attributes, *pii_sets)
    assert isinstance(result, Rejection), result
    return result.reason


def test_event_body_golden() -> None:
    item = event(
        {"timestamp": "2026-11-25T14:03:00Z", "value": "129.90", "currency": "usd", "units": "2",
         "dedupe_id": "ord-1001"},
        {"email": "Jane.Doe@Example.com", "phone": "(571) 412-0599"},
    )
    assert item == {
        "name": "Offline purchase",
        "conversionDefinitionId": "CD-77",
        "countryCode": "US",
        "timestamp": "2026-11-25T14:03:00.000Z",
        "matchKeys": [
            {"type": "EMAIL", "values": [sha256(EMAIL)]},
            {"type": "PHONE", "values": [sha256("15714120599")]},
        ],
        "value": 129.9,
        "currencyCode": "USD",
        "unitsSold": 2,
        "clientDedupeId": "ord-1001",
    }


def test_event_name_column_overrides_the_definition_name() -> None:
    assert event({"event_name": "Store visit"})["name"] == "Store visit"


# -- timestamps ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "sent"),
    [
        ("2026-11-25T14:03:00Z", "2026-11-25T14:03:00.000Z"),
        ("2026-11-26T09:15:30-05:00", "2026-11-26T14:15:30.000Z"),
        ("2026-11-26T09:15:30+09:00", "2026-11-26T00:15:30.000Z"),
        ("2026-11-26T18:40:00", "2026-11-26T18:40:00.000Z"),  # naive means UTC
        ("2026-11-26 18:40:00", "2026-11-26T18:40:00.000Z"),
        ("2026-11-26T10:00:00.123456Z", "2026-11-26T10:00:00.123Z"),
        (str(int(NOW.timestamp()) - 3600), "2026-11-27T11:00:00.000Z"),  # epoch seconds
        (str(int(NOW.timestamp()) * 1000 - 1500), "2026-11-27T11:59:58.500Z"),  # epoch ms
        (f"{NOW.timestamp() - 60:.3f}", "2026-11-27T11:59:00.000Z"),  # fractional seconds
    ],
)
def test_timestamps_are_sent_as_utc_iso_8601_with_milliseconds(raw: str, sent: str) -> None:
    assert event({"timestamp": raw})["timestamp"] == sent


def test_events_up_to_seven_days_old_are_sent_and_older_ones_are_rejected() -> None:
    seven_days = timedelta(days=7)
    assert event({"timestamp": (NOW - seven_days + timedelta(minutes=1)).isoformat()})
    assert reason({"timestamp": (NOW - seven_days - timedelta(seconds=1)).isoformat()}) == (
        Reason.TIMESTAMP_TOO_OLD
    )
    assert reason({"timestamp": "2026-10-01T10:00:00Z"}) == Reason.TIMESTAMP_TOO_OLD


def test_future_events_are_rejected_beyond_a_small_clock_skew() -> None:
    assert event({"timestamp": (NOW + timedelta(minutes=1)).isoformat()})
    assert reason({"timestamp": (NOW + timedelta(hours=1)).isoformat()}) == (
        Reason.TIMESTAMP_IN_FUTURE
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", Reason.MISSING_TIMESTAMP),
        ("not a date", Reason.INVALID_TIMESTAMP),
        ("26/11/2026", Reason.INVALID_TIMESTAMP),
        ("2026-13-01T00:00:00Z", Reason.INVALID_TIMESTAMP),
    ],
)
def test_missing_or_unparseable_timestamps_are_rejected(raw: str, expected: str) -> None:
    result = EVENTS.build(prepared({"timestamp": raw} if raw else {}, {"email": EMAIL}))
    assert isinstance(result, Rejection)
    assert result.reason == expected


# -- limited data use ------------------------------------------------------------------------


def test_limited_data_use_events_are_counted_and_never_sent() -> None:
    records = [
        SourceRecord(2, {"event_time": "2026-11-26T10:00:00Z", "email": EMAIL}),
        SourceRecord(
            3,
            {"event_time": "2026-11-26T10:00:00Z", "email": EMAIL,
             "data_processing": "limited_data_use"},
        ),
    ]
    processor = RecordProcessor(EVENTS, build_plan(None), ConsentPolicy())
    batches = list(processor.batches(records))
    assert [line for batch in batches for line in batch.lines] == [2]
    assert processor.tally.rejected == {Reason.LIMITED_DATA_USE: 1}
    assert processor.tally.fates[0].line == 3
    for batch in batches:
        assert b"LIMITED_DATA_USE" not in batch.body
        assert b"dataProcessingOptions" not in batch.body


# -- value, currency, units ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "sent"),
    [
        ("129.90", 129.9),
        ("12.345", 12.35),  # half up, to the cent
        ("12.344", 12.34),
        ("0.005", 0.01),
        ("1,299.50", 1299.5),
        (" 7 ", 7.0),
        ("-5.25", -5.25),
        ("9999999999999.99", 9999999999999.99),
    ],
)
def test_values_are_rounded_to_the_cent(raw: str, sent: float) -> None:
    assert event({"value": raw})["value"] == sent


@pytest.mark.parametrize("raw", ["abc", "12.3.4", "NaN", "Infinity", "10000000000000.00"])
def test_unusable_values_are_invalid_value(raw: str) -> None:
    assert reason({"value": raw}) == Reason.INVALID_VALUE


@pytest.mark.parametrize("raw", ["usd", "EUR", " gbp "])
def test_currency_codes_are_uppercased(raw: str) -> None:
    assert event({"currency": raw})["currencyCode"] == raw.strip().upper()


@pytest.mark.parametrize("raw", ["US$", "XYZ", "dollars", "BTC"])
def test_currency_outside_the_api_enum_is_invalid_currency(raw: str) -> None:
    assert reason({"currency": raw}) == Reason.INVALID_CURRENCY


@pytest.mark.parametrize(("raw", "sent"), [("1", 1), ("3", 3), ("2.0", 2), (" 12 ", 12)])
def test_units_sold(raw: str, sent: int) -> None:
    assert event({"units": raw})["unitsSold"] == sent


@pytest.mark.parametrize("raw", ["0", "-1", "many"])
def test_non_positive_or_non_numeric_units_are_invalid_units(raw: str) -> None:
    assert reason({"units": raw}) == Reason.INVALID_UNITS


def test_optional_fields_are_left_out_when_absent() -> None:
    assert set(event({})) == {
        "name", "conversionDefinitionId", "countryCode", "timestamp", "matchKeys",
        "clientDedupeId",
    }


# -- clientDedupeId --------------------------------------------------------------------------


def test_client_dedupe_id_is_taken_from_the_file() -> None:
    assert event({"dedupe_id": "ord-1001"})["clientDedupeId"] == "ord-1001"


def test_derived_client_dedupe_id_is_deterministic_from_the_event_content() -> None:
    first = event({"value": "10.00"}, {"email": "Jane.Doe@example.com"})
    re_upload = event({"value": "10"}, {"email": " jane.doe@example.com "})
    assert first["clientDedupeId"] == re_upload["clientDedupeId"]
    for changed in (
        event({"value": "10.01"}, {"email": EMAIL}),
        event({"value": "10.00", "timestamp": "2026-11-26T10:00:01Z"}, {"email": EMAIL}),
        event({"value": "10.00"}, {"email": "john@example.com"}),
        event({"value": "10.00", "units": "2"}, {"email": EMAIL}),
    ):
        assert changed["clientDedupeId"] != first["clientDedupeId"]
    assert "jane" not in first["clientDedupeId"]


# -- matchKeys -------------------------------------------------------------------------------

FULL_SET = {
    "email": EMAIL,
    "phone": "5714120599",
    "first_name": "Jane",
    "last_name": "Doe",
    "address": "8 Bluestem Terrace",
    "city": "Springfield",
    "state": "VA",
    "postal": "22150",
}


def test_match_keys_are_capped_at_nine_keeping_the_strongest_first() -> None:
    keys = event(
        {"maid": "6D92078A-8246", "ramp_id": "XY1005wXyWPB"},
        FULL_SET,
        {"email": "second@example.com"},
    )["matchKeys"]
    assert len(keys) == MAX_MATCH_KEYS == 9
    assert [k["type"] for k in keys] == [
        "EMAIL", "PHONE", "FIRST_NAME", "LAST_NAME", "ADDRESS", "CITY", "STATE", "POSTAL", "MAID",
    ]
    assert keys[-1] == {"type": "MAID", "values": ["6D92078A-8246"]}


def test_device_ids_come_before_further_pii_sets() -> None:
    keys = event(
        {"ramp_id": "XY1005wXyWPB"}, {"email": EMAIL}, {"email": "second@example.com"}
    )["matchKeys"]
    assert keys == [
        {"type": "EMAIL", "values": [sha256(EMAIL)]},
        {"type": "RAMP_ID", "values": ["XY1005wXyWPB"]},
        {"type": "EMAIL", "values": [sha256("second@example.com")]},
    ]


def test_an_event_without_match_keys_is_no_identifier() -> None:
    assert reason({}, {"email": "not an email"}) == Reason.NO_IDENTIFIER


def test_every_match_key_has_exactly_one_value() -> None:
    keys = event({"maid": "M"}, FULL_SET)["matchKeys"]
    assert all(len(key["values"]) == 1 for key in keys)


# -- envelope --------------------------------------------------------------------------------


def test_event_data_envelope_and_limits() -> None:
    batcher = EVENTS.batcher()
    body = batcher.prefix + orjson.dumps(event({})) + batcher.suffix
    assert orjson.loads(body)["source"] == "SERVER_TO_SERVER"
    assert batcher.max_items == EVENTS_PER_REQUEST == 100


def test_fractional_units_are_rejected_not_truncated() -> None:
    from adm_ingest.destinations.conversions import _whole_number

    assert _whole_number("3") == 3
    assert _whole_number("3.0") == 3
    assert _whole_number("2.7") is None
    assert _whole_number("two") is None
