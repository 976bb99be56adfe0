"""Event times as files write them (issue 9, part 6): golden tables of the instant each text
reads as — or why it is refused. Day/month order is never guessed, and a time without a zone
is read in the mapping's ``timezone`` (or as UTC, flagged, when there is none)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adm_ingest.records import Reason
from adm_ingest.values import ParsedTimestamp, ValueProblem, parse_timestamp

EPOCH_NOW = int(datetime(2026, 11, 28, 11, 0, tzinfo=UTC).timestamp())  # 1795863600


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type, misc]


# text, timezone, date_order → the instant (UTC), read without a zone?
READS = [
    # ISO 8601
    ("2026-11-28T11:00:00Z", None, None, utc(2026, 11, 28, 11), False),
    ("2026-11-28T11:00:00+00:00", None, None, utc(2026, 11, 28, 11), False),
    ("2026-11-28T06:00:00-05:00", None, None, utc(2026, 11, 28, 11), False),
    ("2026-11-28T20:00:00+0900", None, None, utc(2026, 11, 28, 11), False),
    ("2026-11-28T11:00:00.123Z", None, None, utc(2026, 11, 28, 11, 0, 0, 123000), False),
    ("2026-11-28T11:00:00.123456789Z", None, None, utc(2026, 11, 28, 11, 0, 0, 123456), False),
    ("2026-11-28T11:00:00", None, None, utc(2026, 11, 28, 11), True),
    ("2026-11-28 11:00:00", None, None, utc(2026, 11, 28, 11), True),
    ("2026-11-28 11:00:00.000", None, None, utc(2026, 11, 28, 11), True),  # Excel
    ("2026-11-28 06:00:00 -0500", None, None, utc(2026, 11, 28, 11), False),  # Shopify
    ("2026-11-28T11:00:00 UTC", None, None, utc(2026, 11, 28, 11), False),
    ("2026-11-28", None, None, utc(2026, 11, 28), True),  # a date: midnight
    ("20261128", None, None, utc(2026, 11, 28), True),
    # RFC 2822
    ("Sat, 28 Nov 2026 06:00:00 -0500", None, None, utc(2026, 11, 28, 11), False),
    ("28 Nov 2026 11:00:00 +0000", None, None, utc(2026, 11, 28, 11), False),
    ("Sat, 28 Nov 2026 11:00:00 GMT", None, None, utc(2026, 11, 28, 11), False),
    # epoch seconds / milliseconds / microseconds / nanoseconds
    (str(EPOCH_NOW), None, None, utc(2026, 11, 28, 11), False),
    (f"{EPOCH_NOW}.5", None, None, utc(2026, 11, 28, 11, 0, 0, 500000), False),
    (f"{EPOCH_NOW}250", None, None, utc(2026, 11, 28, 11, 0, 0, 250000), False),
    (f"{EPOCH_NOW}250.5", None, None, utc(2026, 11, 28, 11, 0, 0, 250500), False),
    (f"{EPOCH_NOW}000007", None, None, utc(2026, 11, 28, 11, 0, 0, 7), False),
    (f"{EPOCH_NOW}000007999", None, None, utc(2026, 11, 28, 11, 0, 0, 7), False),
    # US, month first
    ("11/30/2026 3:45 PM", None, None, utc(2026, 11, 30, 15, 45), True),
    ("11/30/2026 3:45 pm", None, None, utc(2026, 11, 30, 15, 45), True),
    ("11/30/2026 3:45 p.m.", None, None, utc(2026, 11, 30, 15, 45), True),
    ("11/30/2026 12:05 AM", None, None, utc(2026, 11, 30, 0, 5), True),
    ("11/30/2026 12:05 PM", None, None, utc(2026, 11, 30, 12, 5), True),
    ("11/30/2026 15:45", None, None, utc(2026, 11, 30, 15, 45), True),
    ("11-30-2026", None, None, utc(2026, 11, 30), True),
    ("11/30/26", None, None, utc(2026, 11, 30), True),
    ("3/4/2026", None, "MDY", utc(2026, 3, 4), True),
    # European, day first
    ("29.11.2026 18:30", None, None, utc(2026, 11, 29, 18, 30), True),
    ("29.11.2026 18:30:15", None, None, utc(2026, 11, 29, 18, 30, 15), True),
    ("30/11/2026", None, None, utc(2026, 11, 30), True),
    ("30-11-2026", None, None, utc(2026, 11, 30), True),
    ("28/11/2026, 11:00", None, None, utc(2026, 11, 28, 11), True),  # Salesforce
    ("03/04/2026", None, "DMY", utc(2026, 4, 3), True),
    ("03.04.2026 10:00", None, "DMY", utc(2026, 4, 3, 10), True),
    ("04/04/2026", None, None, utc(2026, 4, 4), True),  # every reading is the same day
    # year first
    ("2026/11/28 11:00", None, None, utc(2026, 11, 28, 11), True),
    ("2026.11.28", None, None, utc(2026, 11, 28), True),
    ("2026-11-28 3:45 PM", None, None, utc(2026, 11, 28, 15, 45), True),
    ("2026/03/04", None, "DMY", utc(2026, 3, 4), True),  # a 4-digit first number is the year
    ("26/11/28", None, "YMD", utc(2026, 11, 28), True),
    # month names
    ("Nov 28 2026 11:00 AM", None, None, utc(2026, 11, 28, 11), True),
    ("Nov 28, 2026 11:00 AM", None, None, utc(2026, 11, 28, 11), True),
    ("Nov. 28, 2026", None, None, utc(2026, 11, 28), True),
    ("November 28, 2026 11:00 AM", None, None, utc(2026, 11, 28, 11), True),
    ("Saturday, November 28, 2026 at 11:00 AM", None, None, utc(2026, 11, 28, 11), True),
    ("28 Nov 2026 11:00", None, None, utc(2026, 11, 28, 11), True),
    ("28 November 2026", None, None, utc(2026, 11, 28), True),
    ("28th Nov 2026", None, None, utc(2026, 11, 28), True),
    ("28-Nov-2026", None, None, utc(2026, 11, 28), True),
    ("28-NOV-2026 11:00", None, None, utc(2026, 11, 28, 11), True),
    ("Sept 3 2026", None, None, utc(2026, 9, 3), True),
    # a timezone option: naive times are local there; written offsets still win
    ("2026-11-28 12:00:00", "Europe/Berlin", None, utc(2026, 11, 28, 11), False),
    ("28.11.2026 12:00", "Europe/Berlin", None, utc(2026, 11, 28, 11), False),
    ("11/28/2026 6:00 AM", "America/New_York", None, utc(2026, 11, 28, 11), False),
    ("2026-07-01 07:00", "America/New_York", None, utc(2026, 7, 1, 11), False),  # EDT
    ("2026-11-28T11:00:00Z", "Asia/Tokyo", None, utc(2026, 11, 28, 11), False),
    ("2026-11-28", "Asia/Tokyo", None, utc(2026, 11, 27, 15), False),
    ("2026-03-08 03:30", "America/New_York", None, utc(2026, 3, 8, 7, 30), False),
    ("2026-11-01 02:30", "America/New_York", None, utc(2026, 11, 1, 7, 30), False),
]


@pytest.mark.parametrize(("text", "zone", "order", "instant", "assumed_utc"), READS)
def test_timestamp_reads_as(
    text: str, zone: str | None, order: str | None, instant: datetime, assumed_utc: bool
) -> None:
    parsed = parse_timestamp(text, timezone=zone, date_order=order)
    assert isinstance(parsed, ParsedTimestamp), parsed
    assert parsed.moment == instant
    assert parsed.moment.tzinfo is UTC
    assert parsed.assumed_utc is assumed_utc


# text, timezone, date_order → reason
REFUSALS = [
    ("03/04/2026", None, None, Reason.AMBIGUOUS_TIMESTAMP),
    ("03/04/2026 10:00", None, None, Reason.AMBIGUOUS_TIMESTAMP),
    ("03.04.2026", None, None, Reason.AMBIGUOUS_TIMESTAMP),
    ("30/11/26", None, None, Reason.AMBIGUOUS_TIMESTAMP),  # 30 Nov 2026 or 2030-11-26
    ("03/04/2026", None, "YMD", Reason.AMBIGUOUS_TIMESTAMP),  # the option can't be this shape
    ("2026-11-01 01:30", "America/New_York", None, Reason.AMBIGUOUS_TIMESTAMP),  # twice
    ("2026-10-25 02:30", "Europe/Berlin", None, Reason.AMBIGUOUS_TIMESTAMP),
    ("2026-03-08 02:30", "America/New_York", None, Reason.INVALID_TIMESTAMP),  # skipped
    ("2026-03-29 02:30", "Europe/Berlin", None, Reason.INVALID_TIMESTAMP),
    ("11/30/2026", None, "DMY", Reason.INVALID_TIMESTAMP),  # no month 30
    ("30/11/2026", None, "MDY", Reason.INVALID_TIMESTAMP),
    ("", None, None, Reason.INVALID_TIMESTAMP),
    ("not a date", None, None, Reason.INVALID_TIMESTAMP),
    ("2026-13-01T00:00:00Z", None, None, Reason.INVALID_TIMESTAMP),
    ("2026-02-30", None, None, Reason.INVALID_TIMESTAMP),
    ("31/04/2026", None, None, Reason.INVALID_TIMESTAMP),
    ("2026-11-28T24:00:00", None, None, Reason.INVALID_TIMESTAMP),
    ("11/30/2026 13:45 PM", None, None, Reason.INVALID_TIMESTAMP),
    ("11/30/2026 0:45 AM", None, None, Reason.INVALID_TIMESTAMP),
    ("11/30/2026 10:61", None, None, Reason.INVALID_TIMESTAMP),
    ("Fri, 28 Nov 2026 11:00:00 +0000", None, None, Reason.INVALID_TIMESTAMP),  # a Saturday
    ("Nov 31 2026", None, None, Reason.INVALID_TIMESTAMP),
    ("Novem 28 2026", None, None, Reason.INVALID_TIMESTAMP),
    ("28 Nov 26", None, None, Reason.INVALID_TIMESTAMP),  # two-digit year with a month name
    ("2026-11-28T11:00:00+15:00", None, None, Reason.INVALID_TIMESTAMP),
    ("2026-11-28 11:00 +1500", None, None, Reason.INVALID_TIMESTAMP),
    ("2026-11-28 11:00 EST", None, None, Reason.INVALID_TIMESTAMP),  # named zones: not read
    ("1795863600123456.5", None, None, Reason.INVALID_TIMESTAMP),
    ("179586360012345678901", None, None, Reason.INVALID_TIMESTAMP),
    ("-1795863600", None, None, Reason.INVALID_TIMESTAMP),
    ("12345", None, None, Reason.INVALID_TIMESTAMP),
    ("11/30/2026/10", None, None, Reason.INVALID_TIMESTAMP),
    ("11/30-2026", None, None, Reason.INVALID_TIMESTAMP),
    ("123/11/2026", None, None, Reason.INVALID_TIMESTAMP),
]


@pytest.mark.parametrize(("text", "zone", "order", "reason"), REFUSALS)
def test_timestamp_is_refused(text: str, zone: str | None, order: str | None, reason: str) -> None:
    problem = parse_timestamp(text, timezone=zone, date_order=order)
    assert isinstance(problem, ValueProblem), problem
    assert problem.reason == reason
    assert problem.detail
    assert not text or text not in problem.detail


@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("30/11/2026", "DMY"),
        ("11/30/2026", "MDY"),
        ("29.11.2026 18:30", "DMY"),
        ("11/30/26", "MDY"),
        ("04/04/2026", None),
        ("2026/11/28", None),
        ("Nov 28 2026", None),
        ("30/11/2026", None),
    ],
)
def test_the_order_the_digits_decided_is_reported(text: str, order: str | None) -> None:
    stated = "DMY" if text == "30/11/2026" and order is None else None
    parsed = parse_timestamp(text, date_order=stated)
    assert isinstance(parsed, ParsedTimestamp)
    assert parsed.date_order == order  # a stated date_order decided nothing by itself


def test_a_tzinfo_can_be_passed_instead_of_a_name() -> None:
    from zoneinfo import ZoneInfo

    parsed = parse_timestamp("2026-11-28 12:00", timezone=ZoneInfo("Europe/Paris"))
    assert isinstance(parsed, ParsedTimestamp)
    assert parsed.moment == utc(2026, 11, 28, 11)


def test_an_unknown_timezone_name_is_a_value_error_naming_the_key() -> None:
    with pytest.raises(ValueError, match="timezone"):
        parse_timestamp("2026-11-28 12:00", timezone="Mars/Olympus_Mons")
