"""Consent safety as an invariant: a record whose own row names a UK / EEA / Swiss country is
either sent with exactly that country AND a consent signal, or not sent — never sent without
consent, never sent under another country (the audience's default, say).

Files are generated as vendors export them: the country column under any of the spellings CRMs
use (``Mailing Country``, ``Country/Region``, ``Default Address Country Code``…) or absent,
anywhere among junk columns; country values as alpha-2, alpha-3, English or local names;
consent columns present or absent. They run through the real record path (``RecordProcessor``
with a members destination under a US dataset default, as the dry-run does).

The oracle is this file's own table of what each drawn value names.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adm_ingest.consent import ConsentPolicy, CountrySource
from adm_ingest.destinations import AudienceMembers, DeliveryTarget
from adm_ingest.mapping import build_plan
from adm_ingest.processing import RecordProcessor
from adm_ingest.readers import FileFormatError, open_records

CONSENT_REQUIRED = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE "
    "IS LI NO GB CH".split()
)
"""UK + EEA + Switzerland (the contract's ``countries.CONSENT_REQUIRED``), restated here so the
oracle does not trust the code under test."""

DETECTED_ON_MAIN = ["country", "Country", "COUNTRY", "country_code", "Country Code"]
VENDOR_SPELLINGS = [
    "Mailing Country",
    "Country/Region",
    "Billing Country",
    "Default Address Country Code",
    "Shipping Country",
]

# What each value names (None: nothing a person would call a UK/EEA/CH country).
VALUES: dict[str, str | None] = {
    # alpha-2, any case
    "DE": "DE",
    "de": "DE",
    "FR": "FR",
    "GB": "GB",
    "gb": "GB",
    "IE": "IE",
    "NO": "NO",
    "IS": "IS",
    "LI": "LI",
    "PL": "PL",
    "SE": "SE",
    "NL": "NL",
    "AT": "AT",
    # alpha-3
    "DEU": "DE",
    "GBR": "GB",
    "FRA": "FR",
    "ESP": "ES",
    "ITA": "IT",
    "AUT": "AT",
    "NLD": "NL",
    "SWE": "SE",
    "NOR": "NO",
    "IRL": "IE",
    "POL": "PL",
    # English names and UK aliases
    "Germany": "DE",
    "United Kingdom": "GB",
    "UK": "GB",
    "U.K.": "GB",
    "England": "GB",
    "Great Britain": "GB",
    "Scotland": "GB",
    "France": "FR",
    "Spain": "ES",
    "Italy": "IT",
    "Austria": "AT",
    "Netherlands": "NL",
    "The Netherlands": "NL",
    "Ireland": "IE",
    "Norway": "NO",
    "Sweden": "SE",
    "Poland": "PL",
    "Belgium": "BE",
    "Denmark": "DK",
    # local names
    "Deutschland": "DE",
    "España": "ES",
    "Italia": "IT",
    "Österreich": "AT",
    "Nederland": "NL",
    "Norge": "NO",
    "Sverige": "SE",
    "Polska": "PL",
    "Éire": "IE",
    "Danmark": "DK",
    "België": "BE",
    "Belgique": "BE",
    # not UK/EEA/CH
    "US": None,
    "USA": None,
    "United States": None,
    "Canada": None,
    "JP": None,
    "": None,
    "Narnia": None,
    "n/a": None,
}
SWISS: dict[str, str] = {
    "CH": "CH",
    "ch": "CH",
    "CHE": "CH",
    "Switzerland": "CH",
    "Schweiz": "CH",
    "Suisse": "CH",
    "Svizzera": "CH",
}
CONSENT_COLUMNS: dict[str, st.SearchStrategy[str]] = {
    "gpp_string": st.sampled_from(["", "", "DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"]),
    "tcf_string": st.sampled_from(["", "", "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"]),
    "amzn_ad_storage": st.sampled_from(["", "GRANTED", "DENIED", "maybe"]),
    "amzn_user_data": st.sampled_from(["", "GRANTED", "DENIED"]),
}
JUNK_COLUMNS = ["Notes", "Lifetime Value", "Segment", "Opt-in Source", "x1", "Created By"]
POLICY = ConsentPolicy.from_defaults({}, country="US", country_source=CountrySource.DATASET)


@st.composite
def crm_files(
    draw: st.DrawFn, country_names: list[str], values: dict[str, str | None]
) -> tuple[bytes, dict[int, str | None]]:
    """A CSV file and, per data line, the country its row names (the oracle)."""
    columns: list[str] = ["Email"]
    country_column = draw(st.one_of(st.none(), st.sampled_from(country_names)))
    if country_column is not None:
        columns.append(country_column)
    columns += draw(st.lists(st.sampled_from(sorted(CONSENT_COLUMNS)), unique=True, max_size=3))
    columns += draw(st.lists(st.sampled_from(JUNK_COLUMNS), unique=True, max_size=3))
    columns = draw(st.permutations(columns))
    named: dict[int, str | None] = {}
    rows: list[list[str]] = []
    for line in range(2, 2 + draw(st.integers(min_value=1, max_value=12))):
        row: list[str] = []
        for column in columns:
            if column == "Email":
                row.append(f"person.{line}@example.com")
            elif column == country_column:
                value = draw(st.sampled_from(sorted(values)))
                named[line] = values[value]
                row.append(value)
            elif column in CONSENT_COLUMNS:
                row.append(draw(CONSENT_COLUMNS[column]))
            else:
                row.append(draw(st.sampled_from(["", "x", "DE", "GB", "CH", "Germany"])))
        rows.append(row)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue().encode(), named


def sent_members(data: bytes, *, rows: bool) -> dict[int, dict[str, Any]]:
    """Line → the member item the record path would send (the dry-run's path)."""
    processor = RecordProcessor(
        AudienceMembers(DeliveryTarget("audience_members", "a", "ds-1")),
        build_plan(None),
        POLICY,
    )
    sent: dict[int, dict[str, Any]] = {}
    for batch in processor.batches(open_records(io.BytesIO(data), rows=rows)):
        for line, item in zip(batch.lines, orjson.loads(batch.body)["members"], strict=True):
            sent[line] = item
        processor.tally.accepted += len(batch)  # as the dry-run counts what it would send
    assert processor.tally.balanced
    return sent


def assert_consent_safe(data: bytes, named: dict[int, str | None], rows: bool) -> None:
    try:
        sent = sent_members(data, rows=rows)
    except FileFormatError:
        return  # nothing is sent from a file that can't be read
    for line, country in named.items():
        if country not in CONSENT_REQUIRED or line not in sent:
            continue
        user_consent = sent[line]["userConsent"]
        assert user_consent["geo"]["countryCode"] == country, (line, country)
        assert user_consent.get("consent"), (line, country)


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(file=crm_files(DETECTED_ON_MAIN, VALUES), rows=st.booleans())
def test_uk_and_eea_records_are_never_sent_without_consent_or_under_another_country(
    file: tuple[bytes, dict[int, str | None]], rows: bool
) -> None:
    assert_consent_safe(*file, rows)


@SETTINGS
@given(file=crm_files(VENDOR_SPELLINGS, VALUES), rows=st.booleans())
def test_the_invariant_holds_under_vendor_spellings_of_the_country_column(
    file: tuple[bytes, dict[int, str | None]], rows: bool
) -> None:
    assert_consent_safe(*file, rows)


@SETTINGS
@given(file=crm_files(DETECTED_ON_MAIN, {**VALUES, **SWISS}), rows=st.booleans())
def test_the_invariant_holds_for_swiss_records(
    file: tuple[bytes, dict[int, str | None]], rows: bool
) -> None:
    assert_consent_safe(*file, rows)


@SETTINGS
@given(file=crm_files(DETECTED_ON_MAIN + VENDOR_SPELLINGS, {**VALUES, **SWISS}), rows=st.booleans())
def test_the_whole_invariant(file: tuple[bytes, dict[int, str | None]], rows: bool) -> None:
    assert_consent_safe(*file, rows)
