"""The sandbox's consent rule, observed through the API, against the library's.

The sandbox models Amazon's documented rule (UK and EEA members need a consent signal); the
library adds Switzerland (``adm_ingest.countries.CONSENT_REQUIRED_BEYOND_AMAZON``). Both are
read here from behaviour, not constants: one member per country code without any signal.
"""

from __future__ import annotations

import hashlib

import pytest

from adm_ingest.consent import ConsentError, ConsentPolicy
from adm_ingest.countries import ADM_COUNTRY_CODES, CONSENT_REQUIRED_BEYOND_AMAZON
from tests.sandbox.sandbox_http import Api

COUNTRIES = sorted(ADM_COUNTRY_CODES)


def _unconsented_member(index: int, country: str) -> dict[str, object]:
    digest = hashlib.sha256(f"user-{index}@example.com".encode()).hexdigest()
    return {
        "action": "CREATE",
        "externalUserId": f"crm-{index}",
        "userConsent": {"geo": {"countryCode": country}},
        "userIdentity": {"hashedPiis": [{"em": digest}]},
    }


def _sandbox_refuses(api: Api) -> frozenset[str]:
    dataset_id = api.create_audience(country="US")
    members = [_unconsented_member(index, country) for index, country in enumerate(COUNTRIES)]
    response = api.members(dataset_id, members)
    assert response.status_code == 200, response.text
    errors = response.json().get("errors", [])
    assert {error["code"] for error in errors} <= {"MISSING_CONSENT"}
    return frozenset(COUNTRIES[error["index"]] for error in errors)


def _library_refuses() -> frozenset[str]:
    policy = ConsentPolicy(country="US")
    refused = set()
    for country in COUNTRIES:
        try:
            policy.signals_of({}, country)
        except ConsentError:
            refused.add(country)
    return frozenset(refused)


def test_the_library_refuses_what_the_sandbox_refuses_and_switzerland(onboarded: Api) -> None:
    sandbox = _sandbox_refuses(onboarded)
    library = _library_refuses()

    assert "DE" in sandbox and "GB" in sandbox and "NO" in sandbox
    assert sandbox <= library
    assert library - sandbox == CONSENT_REQUIRED_BEYOND_AMAZON == {"CH"}


@pytest.mark.parametrize(("country", "refused"), [("CH", False), ("DE", True), ("US", False)])
def test_the_sandbox_needs_a_signal_only_where_amazon_documents_it(
    onboarded: Api, country: str, refused: bool
) -> None:
    dataset_id = onboarded.create_audience(country=country)
    unconsented = _unconsented_member(0, country)
    del unconsented["userConsent"]  # the dataset's country decides

    response = onboarded.members(dataset_id, [unconsented])

    assert response.status_code == 200, response.text
    codes = [error["code"] for error in response.json().get("errors", [])]
    assert codes == (["MISSING_CONSENT"] if refused else [])
