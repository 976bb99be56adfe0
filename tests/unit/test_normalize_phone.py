"""Phone normalization: golden vectors and the fast path ≡ libphonenumber property."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from adm_ingest.normalize import normalize_phone
from adm_ingest.normalize.phone import (
    _DEFER,
    FAST_PATH_REGIONS,
    _fast_path,
    e164_digits,
    parse_with_phonenumbers,
    phone_region,
)


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        # NORMALIZATION.md examples
        ("(571) 412-0599", "US", "15714120599"),
        ("+44 20 7031 3000", "US", "442070313000"),
        # national numbers use the record's country (the uploader would read +57…)
        ("571-412-0599", "US", "15714120599"),
        ("5714120599", "US", "15714120599"),
        ("1(612)392-8346", "US", "16123928346"),
        ("1 613 555 0123", "CA", "16135550123"),
        ("020 7031 3000", "GB", "442070313000"),
        ("+44 (0)20 7031 3000", "GB", "442070313000"),
        ("01 23 45 67 89", "FR", "33123456789"),
        ("030 1234567", "DE", "49301234567"),
        ("912 345 678", "ES", "34912345678"),
        ("06 1234 5678", "IT", "390612345678"),  # Italian leading zero is kept
        ("03-1234-5678", "JP", "81312345678"),
        ("098765 43210", "IN", "919876543210"),
        ("+91 98765 43210", "US", "919876543210"),
        ("+1 (413) 871-4499", "GB", "14138714499"),
        # countries outside the fast path: libphonenumber with the record's country as region
        ("55 1234 5678", "MX", "525512345678"),
        ("(55) 1234-5678", "MX", "525512345678"),
        ("0412 345 678", "AU", "61412345678"),
        ("(02) 9374 4000", "AU", "61293744000"),
        ("070-123 45 67", "SE", "46701234567"),
        ("08-123 456 78", "SE", "46812345678"),
        ("+46 70 123 45 67", "US", "46701234567"),
        ("+61 412 345 678", "MX", "61412345678"),  # a +CC prefix wins over the region
        # a country written as a name finds the same region
        ("55 1234 5678", "México", "525512345678"),
        ("0412 345 678", "Australia", "61412345678"),
        ("070-123 45 67", "Sverige", "46701234567"),
        # IDD dialling is understood through libphonenumber
        ("011 44 20 7031 3000", "US", "442070313000"),
        ("0044 20 7031 3000", "DE", "442070313000"),
        # no usable number
        ("", "US", None),
        ("   ", "US", None),
        ("n/a", "US", None),
        ("12", "US", None),
        ("+44 20", "US", None),
        ("+999 123 456 789", "US", None),
        ("571 412 0599 412 0599 412", "US", None),
        # a country libphonenumber does not know: read as international, like the uploader
        ("44 20 7031 3000", "ZZ", "442070313000"),
    ],
)
def test_golden_vectors(raw: str, country: str, expected: str | None) -> None:
    assert normalize_phone(raw, country) == expected


def test_full_width_and_nfc_input_goes_through_libphonenumber() -> None:
    assert normalize_phone("＋４４ ２０ ７０３１ ３０００", "US") == "442070313000"


def test_output_is_idempotent_once_the_plus_is_restored() -> None:
    # E.164 without "+" is *not* a fixed point for national parsing (a US record's
    # "442070313000" would be read as a US number); with the "+" back it is.
    for raw, country in [("(571) 412-0599", "US"), ("020 7031 3000", "GB"), ("06 1234 5678", "IT")]:
        once = normalize_phone(raw, country)
        assert once is not None
        assert normalize_phone("+" + once, country) == once


_REGIONS = st.sampled_from((*FAST_PATH_REGIONS, "MX", "ZZ"))
_SEPARATORS = st.sampled_from(["", "", "", " ", "-", ".", "(", ")", " (", ") "])


@st.composite
def _numbers(draw: st.DrawFn) -> str:
    """Digit strings shaped like real input: optional +/cc, trunk 0, NANP 1, punctuation."""
    lead = draw(
        st.sampled_from(
            [
                "",
                "",
                "+",
                "+1",
                "+44",
                "+33",
                "+49",
                "+34",
                "+39",
                "+81",
                "+91",
                "0",
                "1",
                "00",
                "011",
                "+440",
                "+490",
                "+52",
                "+7",
            ]
        )
    )
    body = draw(st.text(alphabet="0123456789", min_size=0, max_size=15))
    out = lead
    for digit in body:
        out += draw(_SEPARATORS) + digit
    return out


@settings(max_examples=3000, deadline=None)
@given(value=_numbers(), country=_REGIONS)
@example(value="15714120599", country="CA")
@example(value="19714120599", country="CA")
@example(value="02070313000", country="GB")
@example(value="1800201234567", country="GB")
@example(value="0612345678", country="IT")
@example(value="0312345678", country="JP")
def test_fast_path_agrees_with_libphonenumber(value: str, country: str) -> None:
    region = phone_region(country)
    if region is None and not value.startswith("+"):
        value = "+" + value
    verdict = _fast_path(value, region)
    if verdict is not _DEFER:
        assert verdict == parse_with_phonenumbers(value, region)


@settings(max_examples=500, deadline=None)
@given(value=_numbers(), country=_REGIONS)
@example(value="5714120599", country="AQ")  # a country without a phone region: no "+" added
def test_e164_digits_is_the_libphonenumber_rule_exactly(value: str, country: str) -> None:
    # The AEP rows' phone rule: the fast path's decisions, libphonenumber for the rest, and
    # none of normalize_phone's ADM readings (spreadsheet guards, "+" without a region).
    region = phone_region(country)
    assert e164_digits(value, region) == parse_with_phonenumbers(value, region)


@settings(max_examples=500, deadline=None)
@given(value=_numbers(), country=_REGIONS)
def test_normalize_phone_equals_the_libphonenumber_rule(value: str, country: str) -> None:
    region = phone_region(country)
    prefixed = value if region is not None or value.startswith("+") else "+" + value
    assert normalize_phone(value, country) == parse_with_phonenumbers(prefixed.strip(), region)


@settings(max_examples=300, deadline=None)
@given(value=_numbers(), country=_REGIONS)
def test_output_is_none_or_digits(value: str, country: str) -> None:
    result = normalize_phone(value, country)
    assert result is None or (result.isascii() and result.isdigit() and len(result) <= 15)


def test_fast_path_covers_the_common_formats() -> None:
    common = [
        "(571) 412-0599",
        "571.412.0599",
        "+1 571 412 0599",
        "+44 20 7031 3000",
        "020 7031 3000",
        "+33 1 23 45 67 89",
        "+49 30 1234567",
        "+81 3-1234-5678",
    ]
    regions = ["US", "US", "US", "GB", "GB", "FR", "DE", "JP"]
    for value, region in zip(common, regions, strict=True):
        assert _fast_path(value, region) is not _DEFER, value


def test_numbers_longer_than_e164_allows_are_omitted() -> None:
    # libphonenumber calls this JP string "possible"; E.164 caps numbers at 15 digits.
    assert normalize_phone("011000000000000000", "JP") is None
