"""Round trips through the value parsers (issue 9, parts 5 and 6).

Money: any amount, written in any locale style (``1,234.56`` / ``1.234,56`` / ``1 234,56`` /
``1'234.56``, with or without grouping, symbols before or after, signs), reads back as exactly
that amount, or is refused as ``ambiguous_value`` — never a value off by a power of ten. With
the file's ``decimal`` option it always reads back exactly.

Timestamps: any instant, written in any supported style (in any zone, naive local times with
the zone as the ``timezone`` option), reads back as the same instant, or is refused as
``ambiguous_timestamp`` — never a different instant. With the right ``date_order`` only a
repeated local hour (DST fall-back) may still be refused.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from adm_ingest.records import Reason
from adm_ingest.values import Money, ParsedTimestamp, ValueProblem, parse_money, parse_timestamp

# -- money -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NumberStyle:
    group: str  # "" for no grouping
    decimal: str


NUMBER_STYLES = [
    NumberStyle(",", "."),  # en-US
    NumberStyle(".", ","),  # de-DE
    NumberStyle(" ", ","),  # fr-FR (plain space)
    NumberStyle("\u00a0", ","),  # fr-FR (NBSP)
    NumberStyle("\u202f", ","),  # fr-FR (narrow NBSP)
    NumberStyle("'", "."),  # de-CH
    NumberStyle(" ", "."),
    NumberStyle("", "."),
    NumberStyle("", ","),
]
MARKERS = [
    ("", ""),
    ("$", ""),
    ("$ ", ""),
    ("€", ""),
    ("", " €"),
    ("", "€"),
    ("EUR ", ""),
    ("", " EUR"),
    ("CA$ ", ""),
    ("US$", ""),
    ("£", ""),
    ("", " kr"),
    ("R$ ", ""),
    ("₹", ""),
]
SIGNS = ["-{}", "{}-", "({})", "−{}"]

AMOUNTS = st.decimals(
    min_value=0, max_value=Decimal("9999999999999.99"), places=2, allow_nan=False
) | st.integers(min_value=0, max_value=10**7).map(Decimal)


def written(amount: Decimal, style: NumberStyle, *, decimals: bool) -> str:
    whole, _, fraction = f"{amount:.2f}".partition(".")
    if style.group:
        groups = []
        while len(whole) > 3:
            whole, groups = whole[:-3], [whole[-3:], *groups]
        whole = style.group.join([whole, *groups])
    return f"{whole}{style.decimal}{fraction}" if decimals else whole


@settings(max_examples=400, deadline=None)
@given(
    amount=AMOUNTS,
    style=st.sampled_from(NUMBER_STYLES),
    marker=st.sampled_from(MARKERS),
    sign=st.none() | st.sampled_from(SIGNS),
    decimals=st.booleans(),
)
def test_money_reads_back_exactly_or_is_ambiguous_never_off_by_a_power_of_ten(
    amount: Decimal,
    style: NumberStyle,
    marker: tuple[str, str],
    sign: str | None,
    decimals: bool,
) -> None:
    decimals = decimals or amount != amount.to_integral_value()
    number = written(amount, style, decimals=decimals)
    text = marker[0] + number + marker[1]
    if sign:
        text = sign.format(text)
    expected = -amount if sign else amount

    guessed = parse_money(text)
    if isinstance(guessed, ValueProblem):
        assert guessed.reason == Reason.AMBIGUOUS_VALUE, (text, guessed)
    else:
        assert guessed.amount == expected, text

    stated = parse_money(text, decimal=style.decimal)
    assert isinstance(stated, Money), (text, stated)
    assert stated.amount == expected, text


@settings(max_examples=200, deadline=None)
@given(
    amount=st.integers(min_value=0, max_value=10**12),
    style=st.sampled_from(NUMBER_STYLES),
    marker=st.sampled_from([("JP¥", ""), ("", " 円"), ("¥", ""), ("", " JPY")]),
)
def test_yen_have_no_minor_units_so_grouping_is_never_ambiguous(
    amount: int, style: NumberStyle, marker: tuple[str, str]
) -> None:
    text = marker[0] + written(Decimal(amount), style, decimals=False) + marker[1]
    money = parse_money(text, currency="JPY")
    assert isinstance(money, Money), (text, money)
    assert money.amount == amount
    assert money.amount.as_tuple().exponent == 0


# -- timestamps ------------------------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Pacific/Chatham",
]
INSTANTS = st.datetimes(
    min_value=datetime(2000, 1, 2),
    max_value=datetime(2099, 12, 30),  # two-digit years: 20yy
).map(lambda naive: naive.replace(tzinfo=UTC))


@dataclass(frozen=True)
class Style:
    """A way files write a time: ``write(local time) → text``, the order its digits need,
    whether it carries the zone, and the precision it keeps."""

    name: str
    write: Callable[[datetime], str]
    order: str | None = None
    zoned: bool = False
    precision: timedelta = timedelta(seconds=1)


def _strftime(fmt: str) -> Callable[[datetime], str]:
    return lambda moment: moment.strftime(fmt)


STYLES = [
    Style("iso offset", lambda m: m.isoformat(), zoned=True, precision=timedelta(microseconds=1)),
    Style(
        "iso Z",
        lambda m: m.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        zoned=True,
        precision=timedelta(microseconds=1),
    ),
    Style("rfc 2822", lambda m: email.utils.format_datetime(m), zoned=True),
    Style("shopify", lambda m: m.strftime("%Y-%m-%d %H:%M:%S %z"), zoned=True),
    Style("epoch s", lambda m: str(int(m.timestamp())), zoned=True),
    Style(
        "epoch ms",
        lambda m: str(int(m.timestamp()) * 1000 + m.microsecond // 1000),
        zoned=True,
        precision=timedelta(milliseconds=1),
    ),
    Style(
        "iso naive",
        lambda m: m.strftime("%Y-%m-%dT%H:%M:%S.%f"),
        precision=timedelta(microseconds=1),
    ),
    Style(
        "excel",
        lambda m: m.strftime("%Y-%m-%d %H:%M:%S.") + f"{m.microsecond // 1000:03d}",
        precision=timedelta(milliseconds=1),
    ),
    Style("us 12h", _strftime("%m/%d/%Y %I:%M:%S %p"), order="MDY"),
    Style("us 24h", _strftime("%m-%d-%Y %H:%M:%S"), order="MDY"),
    Style("us 2-digit year", _strftime("%m/%d/%y %H:%M:%S"), order="MDY"),
    Style("german", _strftime("%d.%m.%Y %H:%M:%S"), order="DMY"),
    Style("uk", _strftime("%d/%m/%Y %H:%M:%S"), order="DMY"),
    Style("salesforce", _strftime("%d/%m/%Y, %H:%M:%S"), order="DMY"),
    Style("year first", _strftime("%Y/%m/%d %H:%M:%S")),
    Style("month name", _strftime("%b %d %Y %I:%M:%S %p")),
    Style("day month name", _strftime("%d %b %Y %H:%M:%S")),
    Style("long month name", _strftime("%A, %B %d, %Y %I:%M:%S %p")),
]


def _truncated(moment: datetime, precision: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + (moment - epoch) // precision * precision


@settings(max_examples=600, deadline=None)
@given(
    instant=INSTANTS,
    zone=st.sampled_from(ZONES),
    style=st.sampled_from(STYLES),
    stated=st.booleans(),
)
def test_a_written_time_reads_back_as_the_same_instant_or_is_ambiguous(
    instant: datetime, zone: str, style: Style, stated: bool
) -> None:
    local = instant.astimezone(ZoneInfo(zone))
    text = style.write(local)
    expected = _truncated(instant, style.precision)

    parsed = parse_timestamp(
        text,
        timezone=None if style.zoned else zone,
        date_order=style.order if stated else None,
    )
    if isinstance(parsed, ValueProblem):
        assert parsed.reason == Reason.AMBIGUOUS_TIMESTAMP, (style.name, text, parsed)
        if stated or style.order is None:  # only a repeated local hour is left ambiguous
            assert not style.zoned
            zone_info = ZoneInfo(zone)
            naive = local.replace(tzinfo=None, fold=0)
            assert (
                naive.replace(tzinfo=zone_info).utcoffset()
                != naive.replace(tzinfo=zone_info, fold=1).utcoffset()
            ), text
    else:
        assert parsed.moment == expected, (style.name, text)
        assert not parsed.assumed_utc


@settings(max_examples=200, deadline=None)
@given(instant=INSTANTS, style=st.sampled_from([s for s in STYLES if not s.zoned]))
def test_without_a_timezone_naive_times_read_as_utc_and_say_so(
    instant: datetime, style: Style
) -> None:
    parsed = parse_timestamp(style.write(instant), date_order=style.order)
    assert isinstance(parsed, ParsedTimestamp), parsed
    assert parsed.moment == _truncated(instant, style.precision)
    assert parsed.assumed_utc
