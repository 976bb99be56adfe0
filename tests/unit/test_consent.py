"""Country resolution and consent signals (issue 2, item 5).

A record's own country / consent columns win over the file-level defaults; records from the
countries in ``countries.CONSENT_REQUIRED`` (which ``tests/unit/test_countries.py`` pins) without
any consent signal are never sent; whatever is sent is shaped like ADM's
``userConsent.consent`` object.
"""

from __future__ import annotations

import pytest

from adm_ingest import consent, countries
from adm_ingest.consent import (
    ConsentError,
    ConsentPolicy,
    consent_body,
    normalize_consent_value,
    normalize_country,
)
from adm_ingest.countries import CONSENT_REQUIRED
from adm_ingest.mapping import RecordLayout
from adm_ingest.prepare import Preparer
from adm_ingest.record_rules import AMAZON_RULES_WITHOUT_CONSENT
from adm_ingest.records import ConsentSignals, PreparedRecord, Reason, Rejection
from tests.record_support import mapped

# -- country ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("US", "US"),
        ("us", "US"),
        (" fr ", "FR"),
        ("USA", "US"),
        ("United States of America", "US"),
        ("united kingdom", "GB"),
        ("UK", "GB"),
        ("uk", "GB"),
        ("Great Britain", "GB"),
        ("England", "GB"),
        ("GBR", "GB"),
        ("Deutschland", "DE"),
        ("España", "ES"),
        ("Italia", "IT"),
        ("JPN", "JP"),
        ("India", "IN"),
        ("Canada", "CA"),
        ("U.S.", "US"),  # punctuation doesn't count
        ("ÜS", "US"),  # nor do accents
        ("Australia", "AU"),  # once invalid_country: only ~14 names were known
        ("Sweden", "SE"),
        ("México", "MX"),
        ("Schweiz", "CH"),
    ],
)
def test_country_aliases_resolve_to_iso_alpha_2(raw: str, expected: str) -> None:
    assert normalize_country(raw) == expected


@pytest.mark.parametrize(
    "raw", ["Narnia", "U", "12", "XXX", "United", "AA", "ZZ", "EU", "UNKNOWN", "", " . "]
)
def test_unrecognized_country_spellings_resolve_to_none(raw: str) -> None:
    assert normalize_country(raw) is None


def test_record_country_wins_over_the_default() -> None:
    policy = ConsentPolicy(country="US")
    assert policy.country_of({"country": "Canada"}) == "CA"


@pytest.mark.parametrize("attributes", [{}, {"country": ""}])
def test_record_without_country_takes_the_default(attributes: dict[str, str]) -> None:
    assert ConsentPolicy(country="JP").country_of(attributes) == "JP"


def test_invalid_record_country_is_an_invalid_country_error_without_the_value() -> None:
    with pytest.raises(ConsentError) as raised:
        ConsentPolicy().country_of({"country": "Atlantis"})
    assert raised.value.reason == Reason.INVALID_COUNTRY
    assert "Atlantis" not in str(raised.value)


def test_a_real_country_adm_does_not_accept_is_rejected_as_unsupported_never_sent_as_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Today ADM's enum holds every ISO 3166-1 code; a newer one would be recognised but not sent.
    monkeypatch.setattr(countries, "ADM_COUNTRY_CODES", countries.ADM_COUNTRY_CODES - {"SE"})
    countries.normalize_country.cache_clear()
    monkeypatch.setattr(consent, "_COUNTRY_MEMO", {})
    try:
        with pytest.raises(ConsentError) as raised:
            ConsentPolicy().country_of({"country": "Sverige"})
        assert raised.value.reason == Reason.UNSUPPORTED_COUNTRY
        assert "Sverige" not in str(raised.value)
        with pytest.raises(ConsentError) as raised:
            ConsentPolicy.from_defaults({"country": "SE"})
        assert raised.value.reason == Reason.UNSUPPORTED_COUNTRY
    finally:
        countries.normalize_country.cache_clear()


def test_default_country_from_a_mapping_config_is_normalized_and_validated() -> None:
    assert ConsentPolicy.from_defaults({"country": "united kingdom"}).country == "GB"
    assert ConsentPolicy.from_defaults({}, country="de").country == "DE"
    with pytest.raises(ConsentError) as raised:
        ConsentPolicy.from_defaults({"country": "Atlantis"})
    assert raised.value.reason == Reason.INVALID_COUNTRY


# -- consent values --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("GRANTED", "GRANTED"),
        ("granted", "GRANTED"),
        (" Grant ", "GRANTED"),
        ("true", "GRANTED"),
        ("Yes", "GRANTED"),
        ("y", "GRANTED"),
        ("1", "GRANTED"),
        ("DENIED", "DENIED"),
        ("deny", "DENIED"),
        ("False", "DENIED"),
        ("no", "DENIED"),
        ("N", "DENIED"),
        ("0", "DENIED"),
        ("not applicable", "NOT_APPLICABLE"),
        ("NOT_APPLICABLE", "NOT_APPLICABLE"),
        ("n/a", "NOT_APPLICABLE"),
        ("NA", "NOT_APPLICABLE"),
        ("unknown", "UNKNOWN"),
    ],
)
def test_consent_value_synonyms(raw: str, expected: str) -> None:
    assert normalize_consent_value(raw) == expected


@pytest.mark.parametrize("raw", ["maybe", "2", "granted!", "opt-in"])
def test_unrecognized_consent_values_resolve_to_none(raw: str) -> None:
    assert normalize_consent_value(raw) is None


@pytest.mark.parametrize("key", ["amzn_ad_storage", "amzn_user_data"])
def test_invalid_record_amazon_consent_is_invalid_consent(key: str) -> None:
    with pytest.raises(ConsentError) as raised:
        ConsentPolicy().signals_of({key: "perhaps"}, "US")
    assert raised.value.reason == Reason.INVALID_CONSENT
    assert "perhaps" not in str(raised.value)


def test_invalid_default_amazon_consent_is_invalid_consent() -> None:
    with pytest.raises(ConsentError) as raised:
        ConsentPolicy.from_defaults({"amzn_user_data": "perhaps"})
    assert raised.value.reason == Reason.INVALID_CONSENT


# -- where consent is required (UK, EEA, CH) ----------------------------------------------


@pytest.mark.parametrize("country", sorted(CONSENT_REQUIRED))
def test_a_record_from_a_consent_country_without_any_signal_is_missing_consent(
    country: str,
) -> None:
    with pytest.raises(ConsentError) as raised:
        ConsentPolicy(country="US").signals_of({}, country)
    assert raised.value.reason == Reason.MISSING_CONSENT


@pytest.mark.parametrize(
    "attributes",
    [
        {"gpp": "DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"},
        {"tcf": "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"},
        {"amzn_ad_storage": "granted"},
        {"amzn_user_data": "denied"},
    ],
)
@pytest.mark.parametrize("country", ["GB", "DE", "NO"])
def test_any_one_signal_satisfies_the_uk_eea_rule(attributes: dict[str, str], country: str) -> None:
    assert ConsentPolicy().signals_of(attributes, country).any


@pytest.mark.parametrize("country", ["US", "CA", "JP", "IN", "BR", "AU", "MX"])
def test_record_from_elsewhere_without_any_signal_is_accepted_without_consent(country: str) -> None:
    signals = ConsentPolicy().signals_of({}, country)
    assert signals == ConsentSignals()
    assert consent_body(signals) == {}


def test_file_level_defaults_fill_in_missing_signals_and_satisfy_the_uk_eea_rule() -> None:
    policy = ConsentPolicy.from_defaults(
        {"country": "GB", "tcf": "TCF-DEFAULT", "amzn_ad_storage": "yes"}
    )
    signals = policy.signals_of({}, policy.country)
    assert signals == ConsentSignals(tcf="TCF-DEFAULT", amzn_ad_storage="GRANTED")


def test_record_signals_win_over_defaults_field_by_field() -> None:
    policy = ConsentPolicy(gpp="GPP-DEFAULT", amzn_ad_storage="GRANTED", amzn_user_data="GRANTED")
    signals = policy.signals_of({"gpp": "GPP-ROW", "amzn_user_data": "no"}, "FR")
    assert signals == ConsentSignals(
        gpp="GPP-ROW", amzn_ad_storage="GRANTED", amzn_user_data="DENIED"
    )


# -- the body --------------------------------------------------------------------------------


def test_consent_body_has_adm_field_names_and_leaves_absent_signals_out() -> None:
    assert consent_body(
        ConsentSignals(gpp="G", tcf="T", amzn_ad_storage="GRANTED", amzn_user_data="DENIED")
    ) == {
        "amzn": {"amznAdStorage": "GRANTED", "amznUserData": "DENIED"},
        "gpp": "G",
        "tcf": "T",
    }
    assert consent_body(ConsentSignals(amzn_user_data="UNKNOWN")) == {
        "amzn": {"amznUserData": "UNKNOWN"}
    }
    assert consent_body(ConsentSignals(tcf="T")) == {"tcf": "T"}


# -- through the preparer --------------------------------------------------------------------


def _mapped(attributes: dict[str, str]) -> tuple[int, list[str], RecordLayout]:
    return mapped(line=7, attributes=attributes, pii_sets=[{"email": "a@example.com"}])


def test_preparer_turns_consent_errors_into_rejections_with_the_line() -> None:
    preparer = Preparer(ConsentPolicy(country="DE"))
    assert preparer.prepare(*_mapped({})) == Rejection(
        7, Reason.MISSING_CONSENT, "DE record has no consent signal"
    )
    rejected = preparer.prepare(*_mapped({"country": "Atlantis"}))
    assert isinstance(rejected, Rejection)
    assert (rejected.line, rejected.reason) == (7, Reason.INVALID_COUNTRY)


def test_preparer_skips_consent_where_it_does_not_apply() -> None:
    prepared = Preparer(ConsentPolicy(country="DE"), AMAZON_RULES_WITHOUT_CONSENT).prepare(
        *_mapped({"amzn_user_data": "nonsense"})
    )
    assert isinstance(prepared, PreparedRecord)
    assert prepared.country == "DE"
    assert prepared.consent == ConsentSignals()


def test_preparer_memo_gives_the_same_digests_as_hash_pii() -> None:
    from adm_ingest.normalize import hash_pii
    from adm_ingest.prepare import Preparer

    preparer = Preparer(ConsentPolicy(), AMAZON_RULES_WITHOUT_CONSENT)
    pii = {"first_name": "Zoë", "city": "Houston", "state": "Texas", "postal": "77001-1234"}
    pii["address"] = "1 Main St"  # with the postal code, what makes the set matchable
    for _ in range(3):  # the second and third pass come from the memo
        prepared = preparer.prepare(*mapped(1, {}, [dict(pii)]))
        assert prepared.hashed_sets == [
            {name: hash_pii(name, value, "US") for name, value in pii.items()}
        ]


def test_preparer_memo_keeps_countries_apart_and_stays_bounded() -> None:
    from adm_ingest import prepare
    from adm_ingest.normalize import hash_pii

    preparer = prepare.Preparer(ConsentPolicy(), AMAZON_RULES_WITHOUT_CONSENT)
    # "Texas" is "tx" in the US and "te" elsewhere: a memo keyed on the value alone would hand
    # one country's digest to the other. Countries alternate, as in a multi-country file.
    for _ in range(2):
        for country in ("US", "GB", "CA", "FR", "US"):
            pii = {"email": "a@example.com", "state": "Texas"}  # a state alone can't match
            prepared = preparer.prepare(*mapped(1, {"country": country}, [pii]))
            assert isinstance(prepared, PreparedRecord)
            assert prepared.hashed_sets[0]["state"] == hash_pii("state", "Texas", country)
    # However many distinct values come, a memo never holds more than its bound.
    hash_city = preparer._hashers["city"]
    for n in range(prepare._MEMO_ENTRIES + 10):
        hash_city(f"Town {n}", "US")
    assert hash_city.__closure__ is not None
    memo = next(
        cell.cell_contents for cell in hash_city.__closure__ if isinstance(cell.cell_contents, dict)
    )
    assert 0 < len(memo) <= prepare._MEMO_ENTRIES
