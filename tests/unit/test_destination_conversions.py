"""Offline conversion events (issue 2, item 6): ``…/dsp/conversionDefinitions/eventData``.

Every test runs against an injected clock, so "7 days old" and "in the future" never depend on
when the suite runs.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from adm_ingest.consent import ConsentPolicy
from adm_ingest.destinations import ConversionEvents, DeliveryTarget, destination_for
from adm_ingest.destinations.conversions import CURRENCIES, EVENTS_PER_REQUEST, MAX_MATCH_KEYS
from adm_ingest.mapping import build_plan
from adm_ingest.prepare import Preparer
from adm_ingest.processing import RecordProcessor
from adm_ingest.records import MappedRecord, PreparedRecord, Reason, Rejection, SourceRecord
from adm_ingest.values import ParseOptions

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
EVENTS = ConversionEvents(
    DeliveryTarget("conversions", "Offline purchase", "CD-77"), clock=lambda: NOW
)
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


def events_with(**options: str) -> ConversionEvents:
    return ConversionEvents(
        DeliveryTarget("conversions", "Offline purchase", "CD-77"),
        options=ParseOptions(**options),
        clock=lambda: NOW,
    )


def build(
    attributes: dict[str, str], *pii_sets: dict[str, str], events: ConversionEvents = EVENTS
) -> dict[str, Any] | Rejection:
    pii = pii_sets or ({"email": EMAIL},)
    return events.build(prepared({"timestamp": "2026-11-26T10:00:00Z", **attributes}, *pii))


def event(
    attributes: dict[str, str], *pii_sets: dict[str, str], events: ConversionEvents = EVENTS
) -> dict[str, Any]:
    result = build(attributes, *pii_sets, events=events)
    assert isinstance(result, dict), result
    return result


def reason(
    attributes: dict[str, str], *pii_sets: dict[str, str], events: ConversionEvents = EVENTS
) -> str:
    result = build(attributes, *pii_sets, events=events)
    assert isinstance(result, Rejection), result
    assert attributes.get("value", "\0") not in result.detail  # never the raw value
    return result.reason


def test_event_body_golden() -> None:
    item = event(
        {
            "timestamp": "2026-11-25T14:03:00Z",
            "value": "129.90",
            "currency": "usd",
            "units": "2",
            "dedupe_id": "ord-1001",
        },
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
        ("2026-11-26T18:40:00", "2026-11-26T18:40:00.000Z"),  # naive, no timezone: UTC
        ("2026-11-26 18:40:00", "2026-11-26T18:40:00.000Z"),
        ("11/26/2026 3:45 PM", "2026-11-26T15:45:00.000Z"),
        ("26.11.2026 18:30", "2026-11-26T18:30:00.000Z"),
        ("Nov 26 2026 11:00 AM", "2026-11-26T11:00:00.000Z"),
        ("Thu, 26 Nov 2026 14:03:00 -0500", "2026-11-26T19:03:00.000Z"),
        ("2026-11-26 11:00:00 -0500", "2026-11-26T16:00:00.000Z"),
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
        ("   ", Reason.MISSING_TIMESTAMP),
        ("not a date", Reason.INVALID_TIMESTAMP),
        ("26/13/2026", Reason.INVALID_TIMESTAMP),
        ("2026-13-01T00:00:00Z", Reason.INVALID_TIMESTAMP),
        ("11/25/2026 13:45 PM", Reason.INVALID_TIMESTAMP),
        ("03/11/2026", Reason.AMBIGUOUS_TIMESTAMP),  # 3 November or 11 March? no date_order
    ],
)
def test_missing_or_unparseable_timestamps_are_rejected(raw: str, expected: str) -> None:
    result = EVENTS.build(prepared({"timestamp": raw} if raw else {}, {"email": EMAIL}))
    assert isinstance(result, Rejection)
    assert result.reason == expected
    assert not raw.strip() or raw not in result.detail


def test_date_order_option_resolves_day_month_ambiguity() -> None:
    dmy, mdy = events_with(date_order="DMY"), events_with(date_order="MDY")
    assert event({"timestamp": "25/11/2026 10:00"}, events=dmy)["timestamp"] == (
        "2026-11-25T10:00:00.000Z"
    )
    assert event({"timestamp": "11/25/2026 10:00"}, events=mdy)["timestamp"] == (
        "2026-11-25T10:00:00.000Z"
    )
    assert reason({"timestamp": "11/25/2026 10:00"}, events=dmy) == Reason.INVALID_TIMESTAMP


def test_timezone_option_reads_naive_times_in_that_zone_and_offsets_still_win() -> None:
    berlin = events_with(timezone="Europe/Berlin")
    assert event({"timestamp": "26.11.2026 18:30"}, events=berlin)["timestamp"] == (
        "2026-11-26T17:30:00.000Z"
    )
    assert event({"timestamp": "2026-11-26T18:30:00Z"}, events=berlin)["timestamp"] == (
        "2026-11-26T18:30:00.000Z"
    )
    assert not berlin.notes


def test_naive_times_without_a_timezone_are_read_as_utc_and_counted() -> None:
    events = events_with()
    event({"timestamp": "2026-11-26 18:40:00"}, events=events)
    event({"timestamp": "2026-11-26T18:40:00Z"}, events=events)
    event({"timestamp": "26/11/2026 18:40"}, events=events)
    assert events.notes == {"naive_timestamp_as_utc": 2}


def test_a_naive_time_read_as_utc_is_counted_even_when_that_makes_it_rejected() -> None:
    events = events_with()
    assert reason({"timestamp": "2026-11-27 14:00"}, events=events) == (Reason.TIMESTAMP_IN_FUTURE)
    assert events.notes["naive_timestamp_as_utc"] == 1


def test_a_file_mixing_day_first_and_month_first_dates_is_counted() -> None:
    events = events_with()
    event({"timestamp": "26/11/2026 10:00"}, events=events)  # only day-first is a date
    event({"timestamp": "25/11/2026 10:00"}, events=events)
    event({"timestamp": "11/25/2026 10:00"}, events=events)  # only month-first is a date
    assert events.notes["date_order_mixed"] == 1


def test_destination_for_passes_parse_options_to_conversions() -> None:
    options = ParseOptions(decimal=",", timezone="Europe/Paris", date_order="DMY")
    destination = destination_for(DeliveryTarget("conversions", "P", "CD-1"), options)
    assert isinstance(destination, ConversionEvents)
    assert destination.options == options
    assert destination_for(DeliveryTarget("conversions", "P", "CD-1")).options == ParseOptions()
    members = destination_for(DeliveryTarget("audience_members", "A", "DS-1"), options)
    assert members.notes == {}


# -- limited data use ------------------------------------------------------------------------


def test_limited_data_use_events_are_counted_and_never_sent() -> None:
    records = [
        SourceRecord(2, {"event_time": "2026-11-26T10:00:00Z", "email": EMAIL}),
        SourceRecord(
            3,
            {
                "event_time": "2026-11-26T10:00:00Z",
                "email": EMAIL,
                "data_processing": "limited_data_use",
            },
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
        ("12.3449", 12.34),  # half up, to the cent
        ("12.3450", 12.35),
        ("0.005", 0.01),
        ("1,299.50", 1299.5),
        (" 7 ", 7.0),
        ("-5.25", -5.25),  # a bare number may be a (negative) non-monetary scale
        ("9999999999999.99", 9999999999999.99),
        ("45,90", 45.9),  # decimal comma: was sent as 4590.0
        ("1.234,56", 1234.56),  # was sent as 1.23
        ("1 234,56", 1234.56),
        ("1'234.56", 1234.56),
        ("$89.00", 89.0),
        ("-0.00", 0.0),
    ],
)
def test_values_are_read_exactly_and_rounded_to_the_cent(raw: str, sent: float) -> None:
    item = event({"value": raw})
    assert item["value"] == sent
    assert "currencyCode" not in item


@pytest.mark.parametrize(
    ("raw", "decimal", "sent"),
    [("12.345", ".", 12.35), ("1,234", ",", 1.23), ("1,234", ".", 1234.0), ("1.234", ",", 1234.0)],
)
def test_the_decimal_option_resolves_three_digits_after_one_separator(
    raw: str, decimal: str, sent: float
) -> None:
    assert event({"value": raw}, events=events_with(decimal=decimal))["value"] == sent


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("abc", Reason.INVALID_VALUE),
        ("12.3.4", Reason.INVALID_VALUE),
        ("NaN", Reason.INVALID_VALUE),
        ("Infinity", Reason.INVALID_VALUE),
        ("1e3", Reason.INVALID_VALUE),
        ("10000000000000.00", Reason.INVALID_VALUE),
        ("1,234", Reason.AMBIGUOUS_VALUE),
        ("1.234", Reason.AMBIGUOUS_VALUE),
        ("12.345", Reason.AMBIGUOUS_VALUE),
        ("CHF 45.00", Reason.INVALID_CURRENCY),
    ],
)
def test_unusable_values_are_rejected_with_a_reason(raw: str, expected: str) -> None:
    assert reason({"value": raw}) == expected


@pytest.mark.parametrize(
    ("raw", "currency"),
    [
        ("€45.00", "EUR"),
        ("45,90 €", "EUR"),
        ("EUR 45,90", "EUR"),
        ("CA$ 210.00", "CAD"),
        ("£12.50", "GBP"),
        ("89.00 USD", "USD"),
        ("JP¥1,234", "JPY"),
        ("₹1,23,456.00", "INR"),
        ("45 SEK", "SEK"),
    ],
)
def test_a_currency_symbol_without_a_currency_column_gives_the_currency(
    raw: str, currency: str
) -> None:
    assert event({"value": raw})["currencyCode"] == currency


@pytest.mark.parametrize("raw", ["$89.00", "¥1200", "kr 45,50"])
def test_a_symbol_shared_by_several_currencies_sends_no_currency_and_is_counted(raw: str) -> None:
    events = events_with()
    assert "currencyCode" not in event({"value": raw}, events=events)
    assert events.notes == {"currency_symbol_ambiguous": 1}


@pytest.mark.parametrize(
    ("raw", "currency", "sent"),
    [
        ("$89.00", "CAD", 89.0),
        ("kr 45,50", "sek", 45.5),
        ("¥1,234", "JPY", 1234.0),
        ("45,90 €", "EUR", 45.9),
    ],
)
def test_a_symbol_agreeing_with_the_currency_column(raw: str, currency: str, sent: float) -> None:
    item = event({"value": raw, "currency": currency})
    assert (item["value"], item["currencyCode"]) == (sent, currency.upper())


@pytest.mark.parametrize(
    ("raw", "currency"), [("€45.00", "USD"), ("CA$ 210.00", "USD"), ("£5", "EUR"), ("EUR 5", "GBP")]
)
def test_a_symbol_disagreeing_with_the_currency_column_is_currency_mismatch(
    raw: str, currency: str
) -> None:
    assert reason({"value": raw, "currency": currency}) == Reason.CURRENCY_MISMATCH


@pytest.mark.parametrize(
    ("raw", "currency"),
    [("-$25.00", ""), ("$-25.00", ""), ("(25.00)", "USD"), ("-25.00", "USD"), ("-€5", "")],
)
def test_negative_money_is_a_refund_and_is_not_sent(raw: str, currency: str) -> None:
    attributes = {"value": raw, **({"currency": currency} if currency else {})}
    assert reason(attributes) == Reason.NEGATIVE_VALUE


def test_currencies_are_the_api_enum() -> None:
    schema = orjson.loads(
        (Path(__file__).parents[2] / "local/adm_local/sandbox/api-schema.json").read_bytes()
    )
    (operation,) = (
        op
        for op in schema["operations"].values()
        if op["path"].endswith("/conversionDefinitions/eventData")
    )
    body = next(iter(operation["requestBody"]["content"].values()))
    item = body["properties"]["eventData"]["items"]["properties"]
    assert set(item["currencyCode"]["enum"]) == CURRENCIES


@pytest.mark.parametrize("raw", ["usd", "EUR", " gbp "])
def test_currency_codes_are_uppercased(raw: str) -> None:
    assert event({"currency": raw})["currencyCode"] == raw.strip().upper()


@pytest.mark.parametrize("raw", ["US$", "XYZ", "dollars", "BTC"])
def test_currency_outside_the_api_enum_is_invalid_currency(raw: str) -> None:
    assert reason({"currency": raw}) == Reason.INVALID_CURRENCY


@pytest.mark.parametrize(
    ("raw", "sent"), [("1", 1), ("3", 3), ("2.0", 2), ("2,0", 2), (" 12 ", 12), ("1 000", 1000)]
)
def test_units_sold(raw: str, sent: int) -> None:
    assert event({"units": raw})["unitsSold"] == sent


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0", Reason.INVALID_UNITS),
        ("-1", Reason.INVALID_UNITS),
        ("many", Reason.INVALID_UNITS),
        ("2.7", Reason.INVALID_UNITS),
        ("10000000000000", Reason.INVALID_UNITS),
        ("1.000", Reason.AMBIGUOUS_VALUE),
        ("1,000", Reason.AMBIGUOUS_VALUE),
    ],
)
def test_unusable_units_are_rejected(raw: str, expected: str) -> None:
    assert reason({"units": raw}) == expected


def test_the_decimal_option_resolves_units() -> None:
    assert event({"units": "1.000"}, events=events_with(decimal=","))["unitsSold"] == 1000
    assert event({"units": "1.000"}, events=events_with(decimal="."))["unitsSold"] == 1


def test_optional_fields_are_left_out_when_absent() -> None:
    assert set(event({})) == {
        "name",
        "conversionDefinitionId",
        "countryCode",
        "timestamp",
        "matchKeys",
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


@pytest.mark.parametrize(
    ("attributes", "dedupe_id"),
    [  # computed by the parser before issue 9: values that parsed the same keep their id
        ({"value": "10.00"}, "d-426536fb97a613a94d8922b4e14c5b97b45eb8f9"),
        (
            {"value": "1,299.50", "units": "2", "currency": "USD"},
            "d-243a0e9586cb3b27e95c4e4a60d6dd0f51787f13",
        ),
        (
            {"timestamp": "2026-11-26 18:40:00", "value": "7"},
            "d-714cc6bde0878fea353c40eabc7697fb187dd07c",
        ),
    ],
)
def test_derived_dedupe_ids_are_stable_across_the_new_value_parsing(
    attributes: dict[str, str], dedupe_id: str
) -> None:
    assert event(attributes)["clientDedupeId"] == dedupe_id


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
        "EMAIL",
        "PHONE",
        "FIRST_NAME",
        "LAST_NAME",
        "ADDRESS",
        "CITY",
        "STATE",
        "POSTAL",
        "MAID",
    ]
    assert keys[-1] == {"type": "MAID", "values": ["6D92078A-8246"]}


def test_device_ids_come_before_further_pii_sets() -> None:
    keys = event({"ramp_id": "XY1005wXyWPB"}, {"email": EMAIL}, {"email": "second@example.com"})[
        "matchKeys"
    ]
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
