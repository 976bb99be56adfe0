"""Event times as CRM exports write them, read into one exact instant — or rejected, never
guessed.

Formats, each an explicit grammar (python-dateutil's parser is not used: it silently picks
day-first or month-first for ``03/04/2026``):

* ISO 8601 (``datetime.fromisoformat``): offset or ``Z`` or none, ``T`` or a space, fractional
  seconds, date only (midnight), e.g. Excel's ``2026-11-28 11:00:00.000`` and Shopify's
  ``2026-11-28 11:00:00 -0500``;
* epoch seconds / milliseconds / microseconds / nanoseconds, told apart by their number of
  digits (9–11 / 12–14 / 15–17 / 18–20; fractions only for seconds and milliseconds);
* numeric dates ``11/30/2026``, ``30.11.2026``, ``30-11-2026``, ``2026/11/28``, two-digit years
  (20yy), with an optional time ``15:45``, ``3:45 PM``, ``15:45:10.250`` (after a space, ``T``
  or a comma, as Salesforce writes ``28/11/2026, 11:00``) and an optional zone;
* month names (English): ``Nov 28 2026 11:00 AM``, ``November 28, 2026``, ``28 Nov 2026
  11:00``, ``28-Nov-2026``, with an optional weekday (checked against the date) — which covers
  RFC 2822 (``Tue, 24 Nov 2026 14:03:00 -0500``). email.utils is not used: it also takes
  two-digit years and zone names such as ``CST`` (US Central or China?) without complaint.

Zones written in the text: ``Z``, ``UTC``, ``GMT``, ``UT``, ``±hh:mm``, ``±hhmm``, ``±hh``,
``UTC±hh:mm``; offsets beyond ±14:00 are rejected. Named zones (``EST``) are not read.

Day or month first: a four-digit first number is the year (Y-M-D). Otherwise every order the
digits allow (D-M-Y and M-D-Y; with a two-digit year also Y-M-D) that gives a real date is
tried; if they give different dates the value is ``ambiguous_timestamp`` unless the mapping's
``date_order`` names the order, which is then the only one tried. ``30/11/2026`` needs no
option; ``03/04/2026`` does; ``04/04/2026`` does not (every reading is the same day). The order
a value was read in is returned so a destination can notice a file that mixes them.

Times without a zone are read in the mapping's ``timezone`` (IANA, via zoneinfo). A local time
that a DST change skips (02:30 on a spring-forward night) is ``invalid_timestamp``; one that
occurs twice (fall-back) is ``ambiguous_timestamp`` — either reading would be a guess. With no
``timezone``, they are read as UTC and flagged ``assumed_utc`` so the report can warn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

from adm_ingest.records import Reason
from adm_ingest.values.options import zone_info
from adm_ingest.values.problems import ValueProblem

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_OFFSET = timedelta(hours=14)
#: Epoch integer digits → microseconds per unit.
_EPOCH_UNITS = {
    **dict.fromkeys(range(9, 12), 1_000_000),
    **dict.fromkeys(range(12, 15), 1_000),
    **dict.fromkeys(range(15, 18), 1),
    **dict.fromkeys(range(18, 21), 0),  # nanoseconds: divided, below
}
_MONTHS = {
    name: number
    for number, full in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ),
        1,
    )
    for name in (full, full[:3])
} | {"sept": 9}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_TIME = (
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?"
    r"(?:\s*(?P<meridiem>[ap])\.?m\.?)?"
    r"(?:\s*(?P<zone>z|utc|gmt|ut|(?:(?:utc|gmt)\s*)?[+-]\d{2}(?::?\d{2})?))?"
)
_THEN_TIME = rf"(?:(?:\s*,\s*|\s+at\s+|\s+|t){_TIME})?"
_WEEKDAY = r"(?:(?P<weekday>[a-z]{3,9})\.?,?\s+)?"
_MONTH = r"(?P<month>[a-z]{3,9})\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"

_EPOCH_TEXT = re.compile(r"(?P<whole>\d{9,20})(?:\.(?P<fraction>\d{1,9}))?")
_NUMERIC = re.compile(
    rf"(?P<a>\d{{1,4}})(?P<sep>[/.\-])(?P<b>\d{{1,2}})(?P=sep)(?P<c>\d{{2,4}}){_THEN_TIME}",
    re.IGNORECASE,
)
_MONTH_FIRST = re.compile(
    rf"{_WEEKDAY}{_MONTH}\s+{_DAY},?\s+(?P<year>\d{{4}}){_THEN_TIME}", re.IGNORECASE
)
_DAY_FIRST = re.compile(
    rf"{_WEEKDAY}{_DAY}[\s\-]{_MONTH}[\s\-]+(?P<year>\d{{4}}){_THEN_TIME}", re.IGNORECASE
)

UNRECOGNISED = ValueProblem(Reason.INVALID_TIMESTAMP, "not a recognised date/time format")
NOT_A_DATE = ValueProblem(Reason.INVALID_TIMESTAMP, "not a valid calendar date or time of day")
AGAINST_ORDER = ValueProblem(
    Reason.INVALID_TIMESTAMP, 'not a valid date in the mapping\'s "date_order"'
)
AMBIGUOUS_ORDER = ValueProblem(
    Reason.AMBIGUOUS_TIMESTAMP,
    "day and month can't be told apart; set the mapping's \"date_order\" option",
)
WRONG_WEEKDAY = ValueProblem(Reason.INVALID_TIMESTAMP, "the weekday does not match the date")
BAD_OFFSET = ValueProblem(Reason.INVALID_TIMESTAMP, "UTC offset beyond ±14:00")
OUT_OF_RANGE = ValueProblem(Reason.INVALID_TIMESTAMP, "epoch value out of range")
SKIPPED_LOCAL_TIME = ValueProblem(
    Reason.INVALID_TIMESTAMP,
    "local time does not exist in the mapping's timezone (skipped by a DST change)",
)
REPEATED_LOCAL_TIME = ValueProblem(
    Reason.AMBIGUOUS_TIMESTAMP,
    "local time occurs twice in the mapping's timezone (DST fall-back); write an offset",
)


@dataclass(frozen=True, slots=True)
class ParsedTimestamp:
    """``moment``: the instant, in UTC. ``assumed_utc``: the text had no zone and no
    ``timezone`` option was given, so it was read as UTC. ``date_order``: ``"DMY"`` or
    ``"MDY"`` when the digits alone decided it (no option; one reading was a real date)."""

    moment: datetime
    assumed_utc: bool = False
    date_order: str | None = None


def parse_timestamp(
    text: str, *, timezone: str | tzinfo | None = None, date_order: str | None = None
) -> ParsedTimestamp | ValueProblem:
    """The instant ``text`` writes; ``timezone`` (IANA name or tzinfo) for times written
    without a zone, ``date_order`` (``DMY`` / ``MDY`` / ``YMD``) for ``03/04/2026``."""
    body = text.strip()
    zone = zone_info(timezone) if isinstance(timezone, str) else timezone
    if epoch := _EPOCH_TEXT.fullmatch(body):
        return _from_epoch(epoch)
    if body[:4].isdigit() and (body[4:5] == "-" or len(body) == 8):
        try:
            parsed = datetime.fromisoformat(body)
        except ValueError:
            pass  # e.g. "2026-11-28 3:45 PM": the numeric grammar below
        else:
            return _instant(parsed, zone)
    if match := _NUMERIC.fullmatch(body):
        day = _numeric_date(match, date_order)
        if isinstance(day, ValueProblem):
            return day
        calendar_day, order = day
    elif match := (_MONTH_FIRST.fullmatch(body) or _DAY_FIRST.fullmatch(body)):
        named = _named_date(match)
        if isinstance(named, ValueProblem):
            return named
        calendar_day, order = named, None
    else:
        return UNRECOGNISED
    moment = _with_time(calendar_day, match)
    if isinstance(moment, ValueProblem):
        return moment
    result = _instant(moment, zone)
    if order and isinstance(result, ParsedTimestamp):
        return ParsedTimestamp(result.moment, result.assumed_utc, order)
    return result


def _from_epoch(match: re.Match[str]) -> ParsedTimestamp | ValueProblem:
    whole, fraction = match.group("whole", "fraction")
    unit = _EPOCH_UNITS[len(whole)]
    if fraction and unit < 1_000:
        return UNRECOGNISED  # fractions of a microsecond / nanosecond: not an epoch we know
    if unit:
        fractional = int(fraction.ljust(9, "0")) * unit // 10**9 if fraction else 0
        micros = int(whole) * unit + fractional
    else:
        micros = int(whole) // 1_000
    try:
        return ParsedTimestamp(EPOCH + timedelta(microseconds=micros))
    except OverflowError:
        return OUT_OF_RANGE


def _numeric_date(
    match: re.Match[str], date_order: str | None
) -> tuple[date, str | None] | ValueProblem:
    a, b, c = match.group("a", "b", "c")
    if len(a) == 4:
        orders: tuple[str, ...] = ("YMD",)
    elif len(c) == 4 and len(a) <= 2:
        orders = ("DMY", "MDY")
    elif len(a) <= 2 and len(c) == 2:
        orders = ("DMY", "MDY", "YMD")
    else:
        return UNRECOGNISED
    stated = False
    if date_order in orders:  # narrows date_order to str
        orders = (date_order,)
        stated = True
    readings: dict[str, date] = {}
    for order in orders:
        parts = dict(zip(order, (a, b, c), strict=True))
        year = int(parts["Y"])
        try:
            readings[order] = date(
                year + 2000 if len(parts["Y"]) == 2 else year, int(parts["M"]), int(parts["D"])
            )
        except ValueError:
            continue
    days = set(readings.values())
    if not days:
        return AGAINST_ORDER if stated and len(a) != 4 else NOT_A_DATE
    if len(days) > 1:
        return AMBIGUOUS_ORDER
    inferred = next(iter(readings)) if len(orders) > 1 and len(readings) == 1 else None
    return days.pop(), inferred


def _named_date(match: re.Match[str]) -> date | ValueProblem:
    month = _MONTHS.get(match.group("month").lower())
    if month is None:
        return UNRECOGNISED
    try:
        day = date(int(match.group("year")), month, int(match.group("day")))
    except ValueError:
        return NOT_A_DATE
    if weekday := match.group("weekday"):
        name = weekday.lower()
        if not any(full.startswith(name) for full in _WEEKDAYS):
            return UNRECOGNISED
        if not _WEEKDAYS[day.weekday()].startswith(name):
            return WRONG_WEEKDAY
    return day


def _with_time(day: date, match: re.Match[str]) -> datetime | ValueProblem:
    if match.group("hour") is None:
        return datetime(day.year, day.month, day.day)
    hour, minute = int(match.group("hour")), int(match.group("minute"))
    second = int(match.group("second") or 0)
    fraction = match.group("fraction")
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    if meridiem := match.group("meridiem"):
        if not 1 <= hour <= 12:
            return NOT_A_DATE
        hour = hour % 12 + (12 if meridiem.lower() == "p" else 0)
    try:
        moment = datetime(day.year, day.month, day.day, hour, minute, second, micro)
    except ValueError:
        return NOT_A_DATE
    zone_text = match.group("zone")
    if zone_text is None:
        return moment
    offset = _offset(zone_text)
    if offset is None:
        return BAD_OFFSET
    return moment.replace(tzinfo=offset)


def _offset(text: str) -> tzinfo | None:
    """``Z`` / ``UTC`` / ``GMT`` / ``UT`` / ``[UTC|GMT]±hh[[:]mm]``; None beyond ±14:00."""
    digits = text.lower().removeprefix("utc").removeprefix("gmt").strip()
    if digits in ("", "z", "ut"):
        return UTC
    sign = -1 if digits[0] == "-" else 1
    hours, minutes = int(digits[1:3]), int(digits[3:].lstrip(":") or 0)
    if minutes >= 60:
        return None
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(sign * offset) if offset <= MAX_OFFSET else None


def _instant(moment: datetime, zone: tzinfo | None) -> ParsedTimestamp | ValueProblem:
    if moment.tzinfo is not None:
        offset = moment.utcoffset()
        if offset is not None and abs(offset) > MAX_OFFSET:
            return BAD_OFFSET
        return ParsedTimestamp(moment.astimezone(UTC))
    if zone is None:
        return ParsedTimestamp(moment.replace(tzinfo=UTC), assumed_utc=True)
    first = moment.replace(tzinfo=zone)
    second = moment.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
            return SKIPPED_LOCAL_TIME
        return REPEATED_LOCAL_TIME
    return ParsedTimestamp(first.astimezone(UTC))
