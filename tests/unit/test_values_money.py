"""Money and units as files write them (issue 9, part 5): golden tables of what each text
reads as — or why it is refused. Nothing here is ever guessed: a separator that may group
thousands or mark decimals is ``ambiguous_value`` until the file's ``decimal`` option says."""

from __future__ import annotations

from decimal import Decimal

import pytest

from adm_ingest.records import Reason
from adm_ingest.values import MINOR_UNITS, Money, ValueProblem, parse_money, parse_units

D = Decimal

# text, currency column, decimal option → amount, currency
READS = [
    # plain and decimal-comma numbers
    ("129.90", None, None, D("129.90"), None),
    ("7", None, None, D("7.00"), None),
    (" 7 ", None, None, D("7.00"), None),
    ("0.5", None, None, D("0.50"), None),
    ("45,90", None, None, D("45.90"), None),
    ("1,23", None, None, D("1.23"), None),
    ("1,5", None, None, D("1.50"), None),
    (".50", None, None, D("0.50"), None),
    ("0,125", None, None, D("0.13"), None),  # leading zero: cannot be grouping
    ("0.005", None, None, D("0.01"), None),  # half up
    ("1234.567", None, None, D("1234.57"), None),  # four digits before: cannot be grouping
    ("3.14159", None, None, D("3.14"), None),
    # grouping: both separators, repeated separators, spaces, apostrophes, lakh
    ("1,234.56", None, None, D("1234.56"), None),
    ("1.234,56", None, None, D("1234.56"), None),
    ("1,234,567.89", None, None, D("1234567.89"), None),
    ("1.234.567,89", None, None, D("1234567.89"), None),
    ("1,234,567", None, None, D("1234567.00"), None),
    ("1.234.567", None, None, D("1234567.00"), None),
    ("1 234,56", None, None, D("1234.56"), None),
    ("1\u00a0234,56", None, None, D("1234.56"), None),
    ("1\u202f234,56", None, None, D("1234.56"), None),
    ("1 234 567", None, None, D("1234567.00"), None),
    ("1 234.567", None, None, D("1234.57"), None),  # space groups, so '.' is decimal
    ("1'234.56", None, None, D("1234.56"), None),
    ("1’234.56", None, None, D("1234.56"), None),
    ("12,34,567.00", None, None, D("1234567.00"), None),
    # the decimal option resolves a lone separator followed by three digits
    ("1,234", None, ",", D("1.23"), None),
    ("1,234", None, ".", D("1234.00"), None),
    ("1.234", None, ",", D("1234.00"), None),
    ("1.234", None, ".", D("1.23"), None),
    ("12.345", None, ".", D("12.35"), None),
    ("1 234", None, ",", D("1234.00"), None),
    # symbols and codes, before and after
    ("$1,234.56", None, None, D("1234.56"), None),  # '$': USD, CAD, AUD, MXN…: not guessed
    ("$89.00", "USD", None, D("89.00"), "USD"),
    ("$89.00", "CAD", None, D("89.00"), "CAD"),
    ("$ 89", "MXN", None, D("89.00"), "MXN"),
    ("€45.00", None, None, D("45.00"), "EUR"),
    ("45,90 €", None, None, D("45.90"), "EUR"),
    ("45,90€", None, None, D("45.90"), "EUR"),
    ("EUR 45,90", None, None, D("45.90"), "EUR"),
    ("eur 45,90", None, None, D("45.90"), "EUR"),
    ("45.90 EUR", "EUR", None, D("45.90"), "EUR"),
    ("CA$ 210.00", None, None, D("210.00"), "CAD"),
    ("C$210", None, None, D("210.00"), "CAD"),
    ("A$ 99.95", None, None, D("99.95"), "AUD"),
    ("US$ 5", None, None, D("5.00"), "USD"),
    ("NZ$5", None, None, D("5.00"), "NZD"),
    ("R$ 1.234,56", None, None, D("1234.56"), "BRL"),
    ("£12.50", None, None, D("12.50"), "GBP"),
    ("¥1200", None, None, D("1200.00"), None),  # JPY or CNY
    ("¥1,234", "JPY", None, D("1234"), "JPY"),  # no minor units: ',' can only group
    ("JP¥1.234", None, None, D("1234"), "JPY"),
    ("JP¥ 1234.4", None, None, D("1234"), "JPY"),
    ("1 234 円", None, None, D("1234"), "JPY"),
    ("CN¥ 88.80", None, None, D("88.80"), "CNY"),
    ("₹1,23,456.00", None, None, D("123456.00"), "INR"),
    ("Rs.45", "INR", None, D("45.00"), "INR"),
    ("kr 45,50", None, None, D("45.50"), None),  # SEK, NOK or DKK
    ("45,50 kr", "SEK", None, D("45.50"), "SEK"),
    ("kr. 45,50", "DKK", None, D("45.50"), "DKK"),
    ("45 SEK", None, None, D("45.00"), "SEK"),
    ("₺ 100", None, None, D("100.00"), "TRY"),
    ("AED 1,000.00", None, None, D("1000.00"), "AED"),
    # signs
    ("-25.00", None, None, D("-25.00"), None),
    ("−25.00", None, None, D("-25.00"), None),
    ("(25.00)", None, None, D("-25.00"), None),
    ("($25.00)", "USD", None, D("-25.00"), "USD"),
    ("-$25.00", None, None, D("-25.00"), None),
    ("$-25.00", None, None, D("-25.00"), None),
    ("25.00-", None, None, D("-25.00"), None),
    ("-€5", None, None, D("-5.00"), "EUR"),
    ("+5", None, None, D("5.00"), None),
]


@pytest.mark.parametrize(("text", "column", "decimal", "amount", "currency"), READS)
def test_money_reads_as(
    text: str, column: str | None, decimal: str | None, amount: Decimal, currency: str | None
) -> None:
    money = parse_money(text, currency=column, decimal=decimal)
    assert isinstance(money, Money), money
    assert (money.amount, money.currency) == (amount, currency)
    assert money.amount.as_tuple().exponent == -MINOR_UNITS.get(currency or "USD", 2)


# text, currency column, decimal option → reason
REFUSALS = [
    ("1,234", None, None, Reason.AMBIGUOUS_VALUE),  # one thousand two hundred… or 1.234?
    ("1.234", None, None, Reason.AMBIGUOUS_VALUE),
    ("12.345", None, None, Reason.AMBIGUOUS_VALUE),
    ("$1,234", None, None, Reason.AMBIGUOUS_VALUE),
    ("€ 999,999", None, None, Reason.AMBIGUOUS_VALUE),
    ("¥1,234", None, None, Reason.AMBIGUOUS_VALUE),  # ¥ alone may be CNY (2 minor units)
    ("€45.00", "USD", None, Reason.CURRENCY_MISMATCH),
    ("CA$ 210.00", "USD", None, Reason.CURRENCY_MISMATCH),
    ("£5", "EUR", None, Reason.CURRENCY_MISMATCH),
    ("EUR 5", "GBP", None, Reason.CURRENCY_MISMATCH),
    ("$5", "EUR", None, Reason.CURRENCY_MISMATCH),
    ("kr 5", "EUR", None, Reason.CURRENCY_MISMATCH),
    ("R$ 5", "USD", None, Reason.CURRENCY_MISMATCH),
    ("CHF 45.00", None, None, Reason.INVALID_CURRENCY),
    ("45 zł", None, None, Reason.INVALID_CURRENCY),
    ("XYZ 45", None, None, Reason.INVALID_CURRENCY),
    ("45.90", None, ",", Reason.INVALID_VALUE),  # the option says ',' is the decimal
    ("1.234,56", None, ".", Reason.INVALID_VALUE),
    ("1,234,567", None, ",", Reason.INVALID_VALUE),
    ("", None, None, Reason.INVALID_VALUE),
    ("abc", None, None, Reason.INVALID_VALUE),
    ("dollars", None, None, Reason.INVALID_VALUE),
    ("NaN", None, None, Reason.INVALID_VALUE),
    ("Infinity", None, None, Reason.INVALID_VALUE),
    ("1e3", None, None, Reason.INVALID_VALUE),
    ("12.3.4", None, None, Reason.INVALID_VALUE),
    ("1,234,56", None, None, Reason.INVALID_VALUE),
    ("1,2345,678", None, None, Reason.INVALID_VALUE),
    ("12 34", None, None, Reason.INVALID_VALUE),
    ("1 234'567", None, None, Reason.INVALID_VALUE),
    ("1,234.567,89", None, None, Reason.INVALID_VALUE),
    ("1.,5", None, None, Reason.INVALID_VALUE),
    ("45.", None, None, Reason.INVALID_VALUE),
    ("--5", None, None, Reason.INVALID_VALUE),
    ("-(5)", None, None, Reason.INVALID_VALUE),
    ("$5 USD", None, None, Reason.INVALID_VALUE),
    ("1" * 30, None, None, Reason.INVALID_VALUE),
]


@pytest.mark.parametrize(("text", "column", "decimal", "reason"), REFUSALS)
def test_money_is_refused(text: str, column: str | None, decimal: str | None, reason: str) -> None:
    problem = parse_money(text, currency=column, decimal=decimal)
    assert isinstance(problem, ValueProblem), problem
    assert problem.reason == reason
    assert problem.detail
    assert not text.strip() or text.strip() not in problem.detail


def test_a_marker_names_the_currency_only_when_it_names_one() -> None:
    assert parse_money("€5") == Money(D("5.00"), "EUR", marked=True)
    dollars = parse_money("$5")
    assert isinstance(dollars, Money)
    assert dollars.ambiguous_marker
    assert not parse_money("5", currency="USD").ambiguous_marker  # type: ignore[union-attr]


# units: text, decimal option → count or reason
UNITS = [
    ("1", None, 1),
    ("2", None, 2),
    ("2.0", None, 2),
    ("2,0", None, 2),
    ("2.00", None, 2),
    (" 12 ", None, 12),
    ("1 000", None, 1000),
    ("1,000,000", None, 1_000_000),
    ("1.000", ",", 1000),
    ("1.000", ".", 1),
    ("1,000", ".", 1000),
    ("-1", None, -1),
    ("0", None, 0),
    ("1.000", None, Reason.AMBIGUOUS_VALUE),
    ("1,000", None, Reason.AMBIGUOUS_VALUE),
    ("2.5", None, Reason.INVALID_UNITS),
    ("2,5", None, Reason.INVALID_UNITS),
    ("two", None, Reason.INVALID_UNITS),
    ("", None, Reason.INVALID_UNITS),
    ("1e3", None, Reason.INVALID_UNITS),
    ("$2", None, Reason.INVALID_UNITS),
]


@pytest.mark.parametrize(("text", "decimal", "expected"), UNITS)
def test_units_read_as(text: str, decimal: str | None, expected: int | str) -> None:
    result = parse_units(text, decimal=decimal)
    if isinstance(expected, int):
        assert result == expected
    else:
        assert isinstance(result, ValueProblem)
        assert result.reason == expected


def test_minor_units_follow_iso_4217() -> None:
    assert {code for code, digits in MINOR_UNITS.items() if digits != 2} == {"JPY"}
    assert MINOR_UNITS["JPY"] == 0
    assert len(MINOR_UNITS) == 18
