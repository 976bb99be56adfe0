"""Country facts (issue 9, part 3): one module says what a country column may say, what ADM
accepts and where consent is required — and everything else agrees with it."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import unicodedata
from pathlib import Path
from types import ModuleType

import pycountry
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adm_ingest import countries
from adm_ingest.consent import ConsentError, ConsentPolicy
from adm_ingest.countries import (
    ADM_COUNTRY_CODES,
    AMAZON_CONSENT_REQUIRED,
    CONSENT_REQUIRED,
    CONSENT_REQUIRED_BEYOND_AMAZON,
    EEA,
    EU_MEMBER_STATES,
    known_country,
    normalize_country,
)
from adm_ingest.normalize.countries import canonical_country
from adm_ingest.prepare import Preparer
from adm_ingest.record_rules import AMAZON_RULES_WITHOUT_CONSENT
from adm_ingest.records import PreparedRecord, Reason
from tests.record_support import mapped

REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATOR = REPO_ROOT / "scripts" / "gen_countries.py"
COMMITTED = REPO_ROOT / "layers" / "common" / "adm_ingest" / "_country_table.py"
API_SCHEMA = REPO_ROOT / "local" / "adm_local" / "sandbox" / "api-schema.json"


# -- what a country column may say -----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # alpha-2 and alpha-3, any case and spacing
        ("US", "US"),
        ("de", "DE"),
        (" fr ", "FR"),
        ("SWE", "SE"),
        ("aus", "AU"),
        ("mex", "MX"),
        # English short, official and common names
        ("Australia", "AU"),
        ("Sweden", "SE"),
        ("Mexico", "MX"),
        ("United States", "US"),
        ("United Kingdom of Great Britain and Northern Ireland", "GB"),
        ("Federal Republic of Germany", "DE"),
        ("Swiss Confederation", "CH"),
        ("South Korea", "KR"),
        ("Korea, Republic of", "KR"),
        ("Republic of Korea", "KR"),
        ("Vietnam", "VN"),
        ("Viet Nam", "VN"),
        ("Czech Republic", "CZ"),
        ("Czechia", "CZ"),
        ("Russian Federation", "RU"),
        ("Bolivia", "BO"),
        ("Côte d'Ivoire", "CI"),
        ("The Netherlands", "NL"),
        ("Trinidad & Tobago", "TT"),
        ("St Lucia", "LC"),
        # local names
        ("Deutschland", "DE"),
        ("España", "ES"),
        ("Espana", "ES"),
        ("Italia", "IT"),
        ("Nederland", "NL"),
        ("Österreich", "AT"),
        ("Oesterreich", "AT"),
        ("Schweiz", "CH"),
        ("Suisse", "CH"),
        ("Svizzera", "CH"),
        ("Sverige", "SE"),
        ("Norge", "NO"),
        ("Danmark", "DK"),
        ("Suomi", "FI"),
        ("Polska", "PL"),
        ("België", "BE"),
        ("Belgique", "BE"),
        ("Éire", "IE"),
        ("Eire", "IE"),
        ("Ελλάδα", "GR"),
        ("Magyarország", "HU"),
        ("Česko", "CZ"),
        ("Česká republika", "CZ"),
        ("Portugal", "PT"),
        ("Brasil", "BR"),
        ("México", "MX"),
        ("Türkiye", "TR"),
        ("Nippon", "JP"),
        ("日本", "JP"),
        ("中国", "CN"),
        ("Россия", "RU"),
        ("대한민국", "KR"),
        ("Lëtzebuerg", "LU"),
        ("Hrvatska", "HR"),
        ("România", "RO"),
        ("Ísland", "IS"),
        # names CRMs in other languages use for the big markets
        ("Estados Unidos", "US"),
        ("EE.UU.", "US"),
        ("Royaume-Uni", "GB"),
        ("Vereinigtes Königreich", "GB"),
        ("Allemagne", "DE"),
        # usual aliases
        ("UK", "GB"),
        ("U.K.", "GB"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("u.s.a.", "US"),
        ("U.S.", "US"),
        ("United States of America", "US"),
        ("Great Britain", "GB"),
        ("England", "GB"),
        ("Scotland", "GB"),
        ("Wales", "GB"),
        ("Northern Ireland", "GB"),
        ("Holland", "NL"),
        ("Korea", "KR"),
        ("Russia", "RU"),
        ("Turkey", "TR"),
        ("Ivory Coast", "CI"),
        ("UAE", "AE"),
        # case, accents, punctuation and whitespace don't count
        ("  united   kingdom ", "GB"),
        ("ESPAÑA", "ES"),
        ("espana", "ES"),
        ("GRÆKENLAND", "GR"),
        ("south-korea", "KR"),
        ("\tSverige\n", "SE"),
        # codes ADM's enum holds beyond current ISO 3166-1: decided by the enum, so recognised
        ("Kosovo", "XK"),
        ("XK", "XK"),
        ("Netherlands Antilles", "AN"),
        ("AN", "AN"),
    ],
)
def test_golden_spellings(raw: str, expected: str) -> None:
    assert normalize_country(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "   ", ".", "ZZ", "AA", "XX", "EU", "UNKNOWN", "Narnia", "Atlantis", "United", "U",
     "12", "826", "the", "Europe", "America del"],
)  # fmt: skip
def test_junk_is_no_country(raw: str) -> None:
    assert normalize_country(raw) is None
    assert known_country(raw) is None


@pytest.mark.parametrize("raw", ["N/A", "n/a", "#N/A", " n / a ", "N.A.", "n.a"])
def test_not_available_is_no_country_not_namibia(raw: str) -> None:
    assert normalize_country(raw) is None


def test_a_bare_na_is_namibias_iso_code() -> None:
    assert normalize_country("NA") == normalize_country("Namibia") == "NA"


_COUNTRIES = sorted(pycountry.countries, key=lambda country: country.alpha_2)


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@given(
    country=st.sampled_from(_COUNTRIES),
    attribute=st.sampled_from(["alpha_2", "alpha_3", "name", "official_name", "common_name"]),
    variant=st.sampled_from([str, str.upper, str.lower, str.title, _strip_accents]),
    padding=st.sampled_from(["", " ", "  ", "\t"]),
)
def test_every_iso_country_is_recognised_by_its_codes_and_names(
    country: object, attribute: str, variant: object, padding: str
) -> None:
    spelling = getattr(country, attribute, None) or country.name  # type: ignore[attr-defined]
    raw = padding + variant(spelling) + padding  # type: ignore[operator]
    assert normalize_country(raw) == country.alpha_2  # type: ignore[attr-defined]


@given(st.text(max_size=40))
def test_any_text_is_a_code_adm_accepts_or_none(raw: str) -> None:
    code = normalize_country(raw)
    assert code is None or code in ADM_COUNTRY_CODES


def test_the_memo_of_spellings_is_bounded() -> None:
    # Called per record on files with a country column: junk must not grow it without end.
    assert normalize_country.cache_info().maxsize == 1024
    assert known_country.cache_info().maxsize == 1024


def test_the_normalizers_read_countries_with_the_same_facts() -> None:
    assert canonical_country("uk") == "GB"
    assert canonical_country("Deutschland") == "DE"
    assert canonical_country(" u.s.a. ") == "US"
    assert canonical_country("zz ") == "ZZ"  # unknown: the default rule, as before


# -- what ADM accepts ------------------------------------------------------------------------


def test_adm_country_codes_are_the_members_api_enum_without_unknown() -> None:
    schema = json.loads(API_SCHEMA.read_text(encoding="utf-8"))
    operation = schema["operations"]["POST /adm/audiences/{dataSetId}/members"]
    body = operation["requestBody"]["content"]["application/vnd.admAudiences.v1+json"]
    geo = body["properties"]["members"]["items"]["properties"]["userConsent"]["properties"]["geo"]
    assert frozenset(geo["properties"]["countryCode"]["enum"]) - {"UNKNOWN"} == ADM_COUNTRY_CODES


def test_every_code_adm_accepts_is_read_and_every_iso_country_is_accepted() -> None:
    assert {country.alpha_2 for country in pycountry.countries} <= ADM_COUNTRY_CODES
    for code in ADM_COUNTRY_CODES:
        assert normalize_country(code) == code


# -- where consent is required ---------------------------------------------------------------


def test_amazons_rule_is_the_uk_and_the_eea() -> None:
    eu = "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE"
    assert frozenset(eu.split()) == EU_MEMBER_STATES
    assert frozenset([*eu.split(), "IS", "LI", "NO"]) == EEA
    assert frozenset([*eu.split(), "IS", "LI", "NO", "GB"]) == AMAZON_CONSENT_REQUIRED


def test_the_library_requires_consent_where_amazon_does_and_in_switzerland() -> None:
    assert AMAZON_CONSENT_REQUIRED | {"CH"} == CONSENT_REQUIRED
    assert CONSENT_REQUIRED <= ADM_COUNTRY_CODES


def test_switzerland_is_pinned_as_our_one_addition_to_amazons_rule() -> None:
    # Decided in countries.CONSENT_REQUIRED_BEYOND_AMAZON: Amazon names only the UK and the
    # EEA; we require consent for CH as well. Changing either side is a decision, not a fix.
    assert frozenset({"CH"}) == CONSENT_REQUIRED_BEYOND_AMAZON
    assert "CH" in CONSENT_REQUIRED
    assert "CH" not in AMAZON_CONSENT_REQUIRED


def test_a_swiss_record_without_a_signal_is_rejected_and_with_one_is_sent() -> None:
    policy = ConsentPolicy(country="US")
    with pytest.raises(ConsentError) as raised:
        policy.signals_of({}, "CH")
    assert raised.value.reason == Reason.MISSING_CONSENT
    assert policy.signals_of({"amzn_user_data": "granted"}, "CH").any


def test_the_sandbox_models_amazons_rule_and_the_library_differs_only_by_switzerland() -> None:
    # The sandbox models the API on its own (it never imports adm_ingest, so the two cannot
    # drift together unnoticed); this is where a change to either is caught.
    from adm_local.sandbox.state import CONSENT_REQUIRED_COUNTRIES

    assert CONSENT_REQUIRED_COUNTRIES == AMAZON_CONSENT_REQUIRED
    assert CONSENT_REQUIRED - CONSENT_REQUIRED_COUNTRIES == CONSENT_REQUIRED_BEYOND_AMAZON
    assert CONSENT_REQUIRED_COUNTRIES <= CONSENT_REQUIRED


# -- the record's country reaches the identifiers -------------------------------------------


@pytest.mark.parametrize(
    ("country", "phone", "e164"),
    [
        ("Mexico", "55 1234 5678", "525512345678"),
        ("Australia", "0412 345 678", "61412345678"),
        ("Sverige", "070-123 45 67", "46701234567"),
        ("US", "+44 20 7031 3000", "442070313000"),
        ("USA", "(571) 412-0599", "15714120599"),
    ],
)
def test_a_phone_is_read_in_the_records_country(country: str, phone: str, e164: str) -> None:
    record = mapped(line=2, attributes={"country": country}, pii_sets=[{"phone": phone}])
    prepared = Preparer(ConsentPolicy(country="US"), AMAZON_RULES_WITHOUT_CONSENT).prepare(*record)
    assert isinstance(prepared, PreparedRecord)
    assert prepared.hashed_sets == [{"phone": hashlib.sha256(e164.encode()).hexdigest()}]


# -- the committed table ---------------------------------------------------------------------


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_countries", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_table_is_exactly_what_the_generator_makes() -> None:
    assert _load_generator().generate() == COMMITTED.read_text(encoding="utf-8"), (
        "layers/common/adm_ingest/_country_table.py has drifted: run `make countries`"
    )


def test_the_lambda_layer_does_not_need_pycountry() -> None:
    source = (REPO_ROOT / "layers" / "common" / "adm_ingest" / "countries.py").read_text()
    assert "pycountry" not in COMMITTED.read_text(encoding="utf-8").split('"""', 2)[2]
    assert "import pycountry" not in source
    runtime = (REPO_ROOT / "layers" / "common" / "requirements.txt").read_text()
    assert "pycountry" not in runtime
    assert countries.ADM_COUNTRY_CODES is ADM_COUNTRY_CODES
