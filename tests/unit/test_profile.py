"""The country profile: hints that a file's defaulted records belong to another country.

A record with a country of its own is never questioned; a defaulted record is counted as
disagreeing when its phone's calling code, its email's country domain or its postcode's shape
points away from the default. Generic domains (.com, .io, .co) and US ZIPs that lost their
leading zero in a spreadsheet are not hints. The profile holds counts and codes only.
"""

from __future__ import annotations

import pytest

from adm_ingest.mapping import build_plan
from adm_ingest.profile import (
    CCTLD_COUNTRIES,
    EMAIL_COUNTRY_DOMAIN,
    FOREIGN_MIN_RECORDS,
    PHONE_CALLING_CODE,
    POSTCODE_SHAPE,
    SAMPLE_RECORDS,
    CountryProfile,
    header_of,
    profile_records,
    strict_country,
)
from adm_ingest.readers import ReadItem
from adm_ingest.records import Rejection
from tests.record_support import Record, blocks


def records(*rows: dict[str, str]) -> list[ReadItem]:
    return list(blocks(Record(line, values) for line, values in enumerate(rows, 2)))


def profile(rows: list[ReadItem], default: str = "US", config: dict | None = None):
    return profile_records(rows, build_plan(header_of(rows) or None, config), default)


@pytest.mark.parametrize(
    ("values", "kind", "pointing"),
    [
        ({"phone": "+44 20 7946 0958"}, PHONE_CALLING_CODE, "GB"),
        ({"phone": "+49 (30) 1234567"}, PHONE_CALLING_CODE, "DE"),
        ({"email": "anna@example.de"}, EMAIL_COUNTRY_DOMAIN, "DE"),
        ({"email": "bob@mail.co.uk"}, EMAIL_COUNTRY_DOMAIN, "GB"),
        ({"email": "eva@example.fr"}, EMAIL_COUNTRY_DOMAIN, "FR"),
        ({"zip": "SW1A 1AA"}, POSTCODE_SHAPE, "GB"),
        ({"zip": "k1a 0b1"}, POSTCODE_SHAPE, "CA"),
        ({"zip": "1012 AB"}, POSTCODE_SHAPE, "NL"),
    ],
)
def test_a_hint_of_another_country_under_a_us_default_is_counted_by_kind_and_country(
    values: dict[str, str], kind: str, pointing: str
) -> None:
    found = profile(records(values))
    assert (found.defaulted, found.disagreeing) == (1, 1)
    assert found.hints == {kind: 1}
    assert found.countries == {pointing: 1}


@pytest.mark.parametrize(
    "values",
    [
        {"phone": "+1 206 555 0100"},  # NANP: the default's own calling code
        {"phone": "(206) 555-0100"},  # national format says nothing
        {"email": "ann@example.com"},
        {"email": "ann@startup.io"},  # generic use of a ccTLD
        {"email": "ann@agency.co"},
        {"email": "ann@example.us"},
        {"zip": "98101"},
        {"zip": "98101-1234"},
        {"zip": "2134"},  # a New England ZIP a spreadsheet stripped of its leading zero
    ],
)
def test_what_agrees_with_a_us_default_or_says_nothing_is_no_hint(values: dict[str, str]) -> None:
    found = profile(records(values))
    assert (found.defaulted, found.disagreeing, dict(found.hints)) == (1, 0, {})


def test_the_default_country_decides_what_disagrees() -> None:
    rows = records({"email": "a@example.co.uk", "phone": "+44 7700 900123", "zip": "SW1A 1AA"})
    assert profile(rows, "GB").disagreeing == 0
    assert profile(rows, "US").hints == {
        PHONE_CALLING_CODE: 1,
        EMAIL_COUNTRY_DOMAIN: 1,
        POSTCODE_SHAPE: 1,
    }
    assert profile(records({"zip": "98101"}), "GB").hints == {POSTCODE_SHAPE: 1}


def test_records_with_their_own_country_are_never_questioned() -> None:
    rows = records(
        {"email": "a@example.de", "Mailing Country": "DE"},
        {"email": "b@example.de", "Mailing Country": ""},
    )
    config = {"columns": {"Mailing Country": "country"}}
    found = profile(rows, config=config)
    assert (found.records, found.defaulted, found.disagreeing) == (2, 1, 1)


def test_a_mapping_default_country_is_still_a_default() -> None:
    rows = records({"email": "a@example.de"})
    found = profile(rows, config={"defaults": {"country": "US"}})
    assert (found.defaulted, found.disagreeing) == (1, 1)


def test_data_looks_foreign_from_a_fifth_of_the_defaulted_records_and_at_least_five() -> None:
    def share(foreign: int, total: int) -> CountryProfile:
        rows = [{"email": f"p{i}@example.de"} for i in range(foreign)]
        rows += [{"email": f"q{i}@example.com"} for i in range(total - foreign)]
        return profile(records(*rows))

    assert share(20, 100).looks_foreign
    assert not share(19, 100).looks_foreign
    assert not share(FOREIGN_MIN_RECORDS - 1, FOREIGN_MIN_RECORDS - 1).looks_foreign
    assert share(FOREIGN_MIN_RECORDS, FOREIGN_MIN_RECORDS).looks_foreign


def test_the_sample_is_bounded_and_rejections_are_skipped() -> None:
    rows: list[object] = [Rejection(1, "wrong_field_count")]
    rows += records(*({"email": f"p{i}@example.de"} for i in range(SAMPLE_RECORDS + 50)))
    found = profile_records(rows, build_plan(["email"]), "US")
    assert found.records == SAMPLE_RECORDS
    assert found.disagreeing == SAMPLE_RECORDS


def test_the_profile_carries_counts_and_codes_never_a_value() -> None:
    rows = records(
        *({"email": f"secret.{i}@example.de", "phone": "+49 30 901820"} for i in range(6))
    )
    stored = profile(rows).to_dict()
    assert stored == {
        "default_country": "US",
        "sampled": 6,
        "defaulted": 6,
        "disagreeing": 6,
        "hints": {PHONE_CALLING_CODE: 6, EMAIL_COUNTRY_DOMAIN: 6},
        "hinted_countries": {"DE": 6},
        "looks_foreign": True,
    }
    assert "secret" not in repr(stored) and "901820" not in repr(stored)


def test_cctld_table_keeps_european_domains_and_drops_generic_ones() -> None:
    for tld, country in {"de": "DE", "fr": "FR", "uk": "GB", "es": "ES", "it": "IT"}.items():
        assert CCTLD_COUNTRIES[tld] == country
    for generic in ("com", "io", "co", "tv", "me", "ai"):
        assert generic not in CCTLD_COUNTRIES
    assert CCTLD_COUNTRIES["eu"] is None


def test_a_json_sample_gives_its_keys_in_order_of_first_appearance() -> None:
    rows = records({"email": "a@x.com"}, {"phone": "1", "email": "b@x.com"}, {"zip": "1"})
    assert header_of([Rejection(1, "invalid_json"), *rows]) == ["email", "phone", "zip"]


def test_strict_country_is_read_from_the_raw_config() -> None:
    assert strict_country({"strict_country": True})
    assert not strict_country({"strict_country": False})
    assert not strict_country(None)
